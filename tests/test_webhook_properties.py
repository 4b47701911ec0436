"""Property tests: whatever a correctly signed request carries, every webhook answers valid TwiML.

Twilio's requests are well-formed, but a caller's keys, their speech transcript, their caller ID
("anonymous", a SIP address, a Twilio Client name) and a replayed or forged step URL are not
under the hotline's control. Hypothesis draws such requests, signs them as Twilio would (so they
get past the signature check and reach the handlers) and posts them to every webhook, at calls
left at different points of the flow. The answer must always be something Twilio runs: HTTP
200, ``text/xml``, TwiML that ``standin.twiml_check.check_twiml`` accepts, produced without the
webhook falling into its catch-all error handler. A second property sends a sequence of random
requests about one CallSid and checks that it never makes a second call record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import keys
from ivr.hotline.loader import load_hotline
from ivr.seeding import seed
from ivr.services import services_of
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from standin.phone import Call
from standin.transport import sign
from standin.twiml_check import check_twiml
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DEMO_ACCOUNT, DEMO_CALLER, PUBLIC_BASE_URL

# The flow's nodes, read from the same hotline file the app loads (checked in each test).
NODE_IDS = sorted(load_hotline(DEFAULT_HOTLINE_CONFIG).file.flow.nodes)
# Each webhook by name, each node's step URL, a node the flow does not have, and "any": a draw
# among every POST route the app serves under /voice/, so a webhook added later is covered too.
WEBHOOKS = ["incoming", "hold", "status", "fallback", "step:?", "any"] + [f"step:{n}" for n in NODE_IDS]

OTHER_CALLER = "+8613355556666"  # registered for no account
EMILY = "6222000033"  # registered mobile +14155550123, so OTHER_CALLER is not verified for it
HEX = "0123456789abcdef"
KEYPAD = "0123456789*#"
TWILIO_FIELDS = frozenset(
    {"CallSid", "AccountSid", "From", "To", "Caller", "Called", "CallStatus", "Direction"}
    | {"ApiVersion", "Digits", "SpeechResult", "Confidence", "CallDuration"}
)
PHASES = ["", "choose", "collect", "confirm", "verify", "wait", "ref"]

# -- what a request may carry ------------------------------------------------------------------

valid_sids = st.text(HEX, min_size=32, max_size=32).map(lambda h: "CA" + h)
garbled_sids = st.one_of(
    st.text(max_size=40),
    valid_sids.map(str.upper),  # "CA" + upper-case hex: not the shape Twilio sends
    valid_sids.map(lambda s: s[:-1]),
    valid_sids.map(lambda s: s + "0"),
    valid_sids.map(lambda s: f" {s}"),
    valid_sids.map(lambda s: "CA" + "g" + s[3:]),
    valid_sids.map(lambda s: "AC" + s[2:]),
)
phone_numbers = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{5,14}", fullmatch=True),
    st.sampled_from([DEMO_CALLER, OTHER_CALLER, "+14155550123", "+864001234567", "13800138000"]),
    st.sampled_from(["anonymous", "Anonymous", "client:bob", "sip:x@y", "sip:alice@example.com", "+", ""]),
    st.text(max_size=30),
)
call_statuses = st.one_of(
    st.sampled_from(["ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"]),
    st.text(max_size=30),
)
digits = st.one_of(
    st.text(KEYPAD, max_size=12),
    st.sampled_from([DEMO_ACCOUNT, EMILY, DEMO_ACCOUNT + "#", "0", "*", "#", "1", "2", "4", "9"]),
    st.text(KEYPAD + "abcABC wW,;+-.٣", max_size=40),
    st.text(max_size=60),
)
speech = st.one_of(
    st.text(max_size=80),
    st.text(min_size=490, max_size=700),
    st.sampled_from(
        [
            "six two two two zero zero zero zero one seven",
            "agent",
            "English",
            "how much are the fees",
            "I want to freeze my account",
            "六二二二零零零零一七",
            "人工服务",
            "普通话",
        ]
    ),
)
numberish = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " 1", "1_000", "٣", "0x10", "9" * 4300, "1e9"]),
    st.text(max_size=20),
)
extra_names = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True),
    st.text(min_size=1, max_size=12),
).filter(lambda name: name not in TWILIO_FIELDS)


def forms(call_sids: st.SearchStrategy[str] | None) -> st.SearchStrategy[dict[str, str]]:
    """Form fields as Twilio names them, each maybe missing, maybe garbled, plus random extras.

    Without `call_sids` there is no CallSid field (the caller of this sets one).
    """
    sid_field = {"CallSid": call_sids} if call_sids is not None else {}
    twilio = st.fixed_dictionaries(
        {},
        optional={
            **sid_field,
            "AccountSid": st.one_of(st.just(ACCOUNT_SID), st.text(max_size=40)),
            "From": phone_numbers,
            "To": phone_numbers,
            "Caller": phone_numbers,
            "CallStatus": call_statuses,
            "Direction": st.sampled_from(["inbound", "outbound-api", ""]),
            "ApiVersion": st.sampled_from(["2010-04-01", "2008-08-01", ""]),
            "Digits": digits,
            "SpeechResult": speech,
            "Confidence": numberish,
            "CallDuration": numberish,
        },
    )
    extras = st.dictionaries(extra_names, st.text(max_size=40), max_size=4)
    return st.builds(lambda extra, fields: {**extra, **fields}, extras, twilio)


query_values = st.one_of(
    st.integers(-5, 50).map(str),
    st.sampled_from(["", "1", "3", "20", "21", "-1", "1.5", "9" * 4300, "٣", " 2"]),
    st.text(max_size=20),
)
step_queries = st.fixed_dictionaries(
    {},
    optional={
        "phase": st.one_of(st.sampled_from(PHASES), st.text(max_size=20)),
        "try": query_values,
        "c": query_values,
    },
)
# Query strings no encoder would write: bare names, bad escapes, repeated names.
raw_query_tails = st.text("abcphasetryc=&%0123456789ZF+-_.", min_size=1, max_size=30)


@st.composite
def queries(draw: st.DrawFn, step: bool) -> str:
    """A step URL's query (phase, try, c: known, random or garbled), or random for other paths."""
    params = (
        draw(step_queries)
        if step
        else draw(st.dictionaries(st.sampled_from(["phase", "try", "x"]), query_values, max_size=2))
    )
    query = urlencode(params)
    if draw(st.booleans()):
        query = "&".join(part for part in (query, draw(raw_query_tails)) if part)
    return query


unknown_nodes = st.from_regex(r"[A-Za-z0-9_\-]{1,24}", fullmatch=True).filter(lambda n: n not in NODE_IDS)


# -- requests and calls -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a webhook answered."""

    status: int
    mimetype: str
    body: str


def post_signed(client: FlaskClient, path: str, query: str, form: dict[str, str]) -> Answer:
    """POST `form` to `path?query`, signed over the public URL exactly as Twilio signs it."""
    public = PUBLIC_BASE_URL + path + (f"?{query}" if query else "")
    signature = sign(AUTH_TOKEN, public, form)
    response = client.post(
        path, query_string=query or None, data=form, headers={"X-Twilio-Signature": signature}
    )
    return Answer(response.status_code, response.mimetype, response.get_data(as_text=True))


def voice_routes(app: Flask) -> list[str]:
    """Every POST route the app serves under /voice/ (Twilio's webhooks), as rule strings."""
    rules = app.url_map.iter_rules()
    return sorted(r.rule for r in rules if r.rule.startswith("/voice/") and "POST" in (r.methods or ()))


def assert_runnable(answer: Answer, what: str, errors: list[logging.LogRecord] | None = None) -> None:
    """The answer is one Twilio runs, and (given `errors`) the webhook did not fail inside."""
    assert answer.status == 200, f"{what}: HTTP {answer.status}: {answer.body[:300]}"
    assert answer.mimetype == "text/xml", f"{what}: Content-Type {answer.mimetype}"
    check_twiml(answer.body)  # raises TwiMLError for a document Twilio would refuse
    assert not errors, f"{what}: the webhook failed inside: " + "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}" for r in errors
    )


class ErrorLog(logging.Handler):
    """Collects ERROR records of the hotline's loggers (the webhook's catch-all logs one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record, with its traceback formatted."""
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        self.records.append(record)


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    """ERROR records logged by `ivr` while the test runs."""
    handler = ErrorLog()
    logger = logging.getLogger("ivr")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def at_issue_menu(call: Call, account: str = DEMO_ACCOUNT) -> Call:
    """Choose English if asked, key in and confirm the account: the call waits at the issue menu."""
    if "For English, press 2" in call.heard_text():
        call.press("2")
    call.press(account)
    call.press("1")
    return call


@pytest.fixture
def live_calls(dial: Callable[..., Call]) -> list[str]:
    """CallSids of calls left at different points of the flow, for random requests to land on."""
    at_language = dial(from_="+8613900001111")
    at_account = dial(from_=OTHER_CALLER)
    at_account.press("2")
    at_confirm = dial()
    at_confirm.press("2")
    at_confirm.press(DEMO_ACCOUNT)
    at_menu = at_issue_menu(dial())
    at_second_factor = at_issue_menu(dial(from_=OTHER_CALLER), EMILY)
    at_second_factor.press("4")
    freezing = at_issue_menu(dial(max_redirects=1))
    freezing.press("4")
    freezing.press("1")  # the freeze job is queued and never run: the call keeps waiting
    on_hold = at_issue_menu(dial())
    on_hold.press("0")
    on_hold.silence()
    ended = dial()
    ended.hangup()
    calls = [at_language, at_account, at_confirm, at_menu, at_second_factor, freezing, on_hold, ended]
    return [call.call_sid for call in calls]


# -- the properties ---------------------------------------------------------------------------


@pytest.mark.parametrize("webhook", WEBHOOKS)
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_webhook_answers_any_signed_request_with_valid_twiml(
    app: Flask, live_calls: list[str], error_log: ErrorLog, webhook: str, data: st.DataObject
) -> None:
    """Random form fields and step positions, signed: HTTP 200, text/xml, TwiML Twilio runs.

    `step:<node>` posts to that node's step URL with a random (known, random or garbled) phase,
    try and confirmation count; `step:?` to a node the flow does not have; `any` to any POST
    route under /voice/ (path arguments filled with node ids or random ones). CallSids are those of
    live calls at different points of the flow, new ones, garbled ones, or missing. An empty
    `<Response/>` (what the status callback answers) is valid TwiML.
    """
    assert set(NODE_IDS) == set(services_of(app).config.file.flow.nodes)
    kind, _, node = webhook.partition(":")
    if kind == "any":
        rule = data.draw(st.sampled_from(voice_routes(app)), label="route")
        kind = "step" if rule.startswith("/voice/step/") else kind
        segments = st.one_of(st.sampled_from(NODE_IDS), unknown_nodes).map(quote)
        path = re.sub(r"<[^>]*>", lambda _: data.draw(segments, label="segment"), rule)
    elif kind == "step":
        node = node if node != "?" else data.draw(unknown_nodes, label="unknown node")
        path = f"/voice/step/{quote(node)}"
    else:
        path = f"/voice/{kind}"
    query = data.draw(queries(step=kind == "step"), label="query")
    sids = st.one_of(st.sampled_from(live_calls), valid_sids, garbled_sids)
    form = data.draw(forms(sids), label="form")
    error_log.records.clear()
    answer = post_signed(app.test_client(), path, query, form)
    assert_runnable(answer, f"POST {path}?{query}", error_log.records)


steps = st.tuples(
    st.sampled_from(["incoming", "hold", "status", "step", "step"]),
    st.one_of(st.sampled_from(NODE_IDS), unknown_nodes),
    st.booleans(),
    forms(None),  # the test adds the one CallSid
)


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(steps, min_size=1, max_size=12), data=st.data())
def test_one_callsid_never_makes_a_second_call_record(
    app: Flask,
    redis_conn: redis.Redis,
    sequence: list[tuple[str, str, bool, dict[str, str]]],
    data: st.DataObject,
) -> None:
    """Whatever the requests about one CallSid say, it has one record and one reference number.

    Each example starts on an empty database (demo accounts reloaded) and sends a random mix of
    incoming, step (any node, random phase/try/c), hold and status requests, all with the same
    CallSid and otherwise random fields (a From that changes between requests included). After
    every request: exactly one `hl:call:*` key, for that CallSid; its `ref` is the one the first
    request made; exactly one `hl:ref:*` key, pointing at the CallSid; the day's `offered`
    counter is 1.
    """
    hotline = services_of(app)
    redis_conn.flushdb()
    seed(hotline.config, hotline.stores.data)
    client = app.test_client()
    sid = "CA" + "5e" * 16
    first_ref: str | None = None
    for kind, node, with_query, fields in sequence:
        path = f"/voice/step/{quote(node)}" if kind == "step" else f"/voice/{kind}"
        query = data.draw(queries(step=kind == "step"), label="query") if with_query else ""
        answer = post_signed(client, path, query, {**fields, "CallSid": sid})
        assert_runnable(answer, f"POST {path}?{query}")
        if first_ref is None and kind == "status":
            # A status callback for a call never seen creates nothing (no phantom abandon).
            assert redis_conn.keys(keys.call("*")) == []
            continue
        assert redis_conn.keys(keys.call("*")) == [keys.call(sid)]
        ref = redis_conn.hget(keys.call(sid), "ref")
        assert ref and (first_ref is None or ref == first_ref), f"ref {first_ref} became {ref}"
        first_ref = ref
        assert redis_conn.keys(keys.reference("*")) == [keys.reference(ref)]
        assert redis_conn.get(keys.reference(ref)) == sid
        day = redis_conn.hget(keys.call(sid), "day")
        assert redis_conn.hget(keys.daily_stats(day or ""), "offered") == "1"
