"""The hold turn written from its template is the document twilio's library writes for it.

A hold turn fills a template (`twiml.Template`, built once with VoiceResponse) instead of building
and writing a document; Twilio reads what it writes, so it must equal `str(doc)` of the document
built with the same values, for any words (escapes, newlines, Chinese, quotes in a URL).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.hotline.loader import load_hotline
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from ivr.voice import twiml
from ivr.voice.waiting import TurnWords, turn_document, turn_rendered

CONFIG = load_hotline(DEFAULT_HOTLINE_CONFIG)
TRICKY = "a & b < c > d \"e\" 'f'\n\r\tg 您好，请稍候 ☎ &amp; ]]>"

texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00\x1f"), max_size=20)
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
