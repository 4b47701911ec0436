"""What the webhooks send is the document twilio's library writes, character for character.

`twiml.render` writes a document without twilio's ElementTree round (ivr/voice/twiml.py); Twilio
reads what it writes, so it must equal `str(doc)` for every document the hotline builds and for
any verb, attribute or text a document may hold (escapes, newlines, Chinese, booleans, empty
verbs, text between verbs).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml import GenericNode, TwiML
from twilio.twiml.voice_response import VoiceResponse

from ivr.hotline.loader import load_hotline
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from ivr.voice import twiml
from ivr.voice.waiting import TurnWords, turn_document, turn_rendered

CONFIG = load_hotline(DEFAULT_HOTLINE_CONFIG)
TRICKY = "a & b < c > d \"e\" 'f'\n\r\tg 您好，请稍候 ☎ &amp; ]]>"


def every_document() -> list[VoiceResponse]:
    """Each document builder of ivr/voice/twiml.py, in every language, with tricky text and URLs."""
    docs: list[VoiceResponse] = []
    url = "https://hotline.example.com/voice/hold?p=3&t=1700000000&x=%22a%22"
    for lang in CONFIG.languages.values():
        docs += [
            twiml.redirect(url),
            twiml.hangup(),
            twiml.goodbye(lang, "hold_message"),
            twiml.overflow(CONFIG, lang),
            twiml.outage_retry(CONFIG, url, apologise=True, pause_seconds=2),
            twiml.hold(lang, "https://x/music.mp3", url),
            twiml.dial_agent(lang, "client:li_na", action=url, whisper=url, ring_timeout=20),
            twiml.dial_agent(lang, "sip:a@b.example", action=url, whisper=url, ring_timeout=20),
            twiml.dial_agent(lang, "+8613900000000", action=url, whisper=url, ring_timeout=20),
            twiml.join_room(lang, "room", action=url, wait_url=url, events_url=url, recording_url=url),
            twiml.join_room(lang, "room", action=url, wait_url=url, events_url=url),
            twiml.agent_room(lang, TRICKY, "room"),
            twiml.room_music(url),
            twiml.dial_outside(lang, "+864001234567", 30),
        ]
        resp = twiml.document()
        gather = twiml.gather(resp, lang, url, hints=["one", "two, three", TRICKY])
        twiml.say(gather, lang, TRICKY)
        gather.play("https://x/a.mp3")
        twiml.gather(resp, lang, url, num_digits=None, speech=False, finish_on_key="")
        resp.pause(length=1)
        docs.append(resp)
    docs.append(twiml.overflow(CONFIG, None))
    docs.append(twiml.document())
    return docs


def test_every_document_the_hotline_builds_renders_as_twilio_writes_it() -> None:
    for doc in every_document():
        assert twiml.render(doc) == str(doc)


texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
values = st.one_of(texts, st.booleans(), st.integers(-5, 99), st.none())
names = st.sampled_from(["Say", "Play", "Pause", "Gather", "Dial", "Number", "X"])
attr_names = st.sampled_from(["action", "method", "timeout", "voice", "language", "loop", "beep"])


@st.composite
def nodes(draw: st.DrawFn, depth: int = 0) -> TwiML:
    """A TwiML element: a name, attributes, a value or none, and verbs (elements and text)."""
    node = GenericNode(
        draw(names), draw(st.one_of(st.none(), texts)), **draw(st.dictionaries(attr_names, values))
    )
    for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
        node.nest(draw(texts) if draw(st.booleans()) else draw(nodes(depth + 1)))
    return node


@settings(max_examples=300, deadline=None)
@given(nodes())
def test_any_element_renders_as_twilio_writes_it(node: TwiML) -> None:
    resp = VoiceResponse()
    resp.nest(node)
    assert twiml.render(resp) == str(resp)


# -- the hold turn's template --------------------------------------------------------------------

urls = st.text(max_size=30).map(lambda tail: f"https://hotline.example.com/voice/hold?p=3&t={tail}")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(CONFIG.languages)),
    st.one_of(st.none(), urls),
    st.lists(st.one_of(texts, st.just(TRICKY)), min_size=1, max_size=6),
    urls,
    urls,
)
def test_a_hold_turn_written_from_its_template_is_the_document_built_with_voiceresponse(
    locale: str, keys: str | None, says: list[str], music: str, next_url: str
) -> None:
    """Whatever the turn says (empty words included: no template then), in either language, with or
    without the key Gather: the template's text is the one twilio writes for the built document."""
    words = TurnWords(CONFIG.languages[locale], keys, tuple(says), music, next_url)
    assert twiml.render(turn_rendered(words)) == str(turn_document(words))
