"""A webhook reads the same fields from its body as werkzeug's own form parser would.

`HotlineRequest` (ivr/app.py) reads a urlencoded body in one step; whatever the body (Twilio's
fields, percent-escapes, `+`, blanks, repeated names, bytes that are not UTF-8) and whatever the
Content-Type, its form, files and what is left of the stream are werkzeug's.
"""

from __future__ import annotations

from flask import Request
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from ivr.app import HotlineRequest

CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "Application/X-WWW-Form-Urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/json",
    "text/plain",
]
TWILIO_BODY = (
    b"AccountSid=AC123&ApiVersion=2010-04-01&CallSid=CA0123456789abcdef0123456789abcdef"
    b"&From=%2B8613900000001&To=%2B864001234567&Digits=7&FinishedOnKey=&SpeechResult=%E6%88%91+%E8%A6%81"
)


def both(body: bytes, content_type: str, *, length: bool = True) -> tuple[Request, Request]:
    """The same request read by Flask's Request and by the hotline's."""
    out = []
    for cls in (Request, HotlineRequest):
        environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
        environ["wsgi.input_terminated"] = True  # as gunicorn says of every request
        if not length:
            del environ["CONTENT_LENGTH"]
        out.append(cls(environ))
    return out[0], out[1]


def same(body: bytes, content_type: str, *, length: bool = True) -> None:
    plain, ours = both(body, content_type, length=length)
    assert list(ours.form.items(multi=True)) == list(plain.form.items(multi=True))
    assert not ours.files and not plain.files
    assert ours.get_data() == plain.get_data()


def test_a_body_read_before_its_fields_gives_them_all_the_same() -> None:
    plain, ours = both(TWILIO_BODY, CONTENT_TYPES[0])
    assert ours.get_data() == plain.get_data() == TWILIO_BODY
    assert list(ours.form.items(multi=True)) == list(plain.form.items(multi=True))
    assert ours.form["Digits"] == "7"


def test_twilio_webhook_bodies_give_werkzeugs_fields() -> None:
    for content_type in CONTENT_TYPES:
        same(TWILIO_BODY, content_type)
        same(TWILIO_BODY, content_type, length=False)
    plain, ours = both(TWILIO_BODY, CONTENT_TYPES[0])
    assert ours.form["SpeechResult"] == "我 要" and ours.form["FinishedOnKey"] == ""


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=80),
        st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6).map(
            lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()
        ),
        st.text("ab=&+%2x\xe9", max_size=30).map(lambda s: s.encode("utf-8")),
        st.text("ab=&+%2x\xe9", max_size=30).map(lambda s: s.encode("latin-1")),
    ),
    st.sampled_from(CONTENT_TYPES),
)
def test_any_body_gives_werkzeugs_fields(body: bytes, content_type: str) -> None:
    same(body, content_type)
