"""The hotline's adapter for Twilio's REST API (ivr/twilio_rest.py), against the stand-in at its base URL."""

from __future__ import annotations

import socket

import pytest
from twilio.base.exceptions import TwilioRestException

from ivr.twilio_rest import Failure, TwilioError, TwilioRest, make_twilio, translate_errors
from standin.rest import Switchboard
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL

HOTLINE, CUSTOMER = "+864001234567", "+8613900000001"


@pytest.fixture
def twilio(twilio_api: tuple[str, Switchboard], switchboard: Switchboard) -> TwilioRest:
    """The adapter, to the stand-in (TWILIO_API_BASE_URL), with a clean switchboard."""
    switchboard.clear()
    return make_twilio(ACCOUNT_SID, AUTH_TOKEN, twilio_api[0], timeout=2)


def place(twilio: TwilioRest, to: str = CUSTOMER) -> str:
    """Place a call the way the callback job does."""
    return twilio.place_call(
        to=to,
        from_=HOTLINE,
        url=f"{PUBLIC_BASE_URL}/voice/callback/answer?call=CAx&attempt=1",
        status_callback=f"{PUBLIC_BASE_URL}/voice/callback/status?call=CAx&attempt=1",
        ring_seconds=25,
        detect_machine=True,
    )


def test_a_placed_call_is_found_among_the_calls_to_its_number_and_has_a_status(
    twilio: TwilioRest, switchboard: Switchboard
) -> None:
    """Place, list, fetch, end: typed answers, what Twilio was asked kept as the callback job asks it."""
    sid = place(twilio)
    [record] = switchboard.outbound_calls
    assert (record.sid, record.method, record.timeout) == (sid, "POST", 25)
    assert record.status_callback_event == ["completed"]
    [found] = twilio.calls_to(CUSTOMER)
    assert (found.sid, found.direction, found.status) == (sid, "outbound-api", "queued")
    assert found.created is not None
    assert twilio.call_status(sid) == "queued"
    twilio.end_call(sid, "canceled")
    assert twilio.call_status(sid) == "canceled"
    assert twilio.calls_to("+8613900000002") == []


def test_a_message_is_sent_and_listed_with_its_body(twilio: TwilioRest, switchboard: Switchboard) -> None:
    """Send a text, then find it again by number and sender (as a retried summary job does)."""
    message_sid = twilio.send_message(to=CUSTOMER, from_=HOTLINE, body="Your reference: 261122000423")
    assert [(m.sid, m.body) for m in twilio.messages_to(CUSTOMER, HOTLINE)] == [
        (message_sid, "Your reference: 261122000423")
    ]
    assert len(switchboard.messages) == 1


def test_every_failure_is_one_error_that_says_what_went_wrong(
    twilio: TwilioRest, switchboard: Switchboard
) -> None:
    """Not found, not in progress, refused (lasting or for now), unreachable."""
    with pytest.raises(TwilioError) as unknown:
        twilio.redirect("CA" + "0" * 32, f"{PUBLIC_BASE_URL}/voice/connect")
    assert (unknown.value.kind, unknown.value.code, unknown.value.transient) == (
        Failure.NOT_FOUND,
        20404,
        False,
    )

    # A live call that is over: the stand-in answers as Twilio does (400, 21220).
    with pytest.raises(TwilioError) as over, translate_errors("redirect of call CAx"):
        raise TwilioRestException(400, "/Calls/CAx.json", "Call is not in-progress.", code=21220)
    assert (over.value.kind, over.value.code) == (Failure.NOT_IN_PROGRESS, 21220)

    with pytest.raises(TwilioError) as invalid:
        twilio.send_message(to="13800138000", from_=HOTLINE, body="hi")
    assert (invalid.value.kind, invalid.value.code, invalid.value.transient) == (
        Failure.REFUSED,
        21211,
        False,
    )

    switchboard.fail_messages(1, status=503, code=20503)
    with pytest.raises(TwilioError) as busy:
        twilio.send_message(to=CUSTOMER, from_=HOTLINE, body="hi")
    assert (busy.value.kind, busy.value.transient) == (Failure.REFUSED, True)

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    nowhere = make_twilio(ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(TwilioError) as unreachable:
        nowhere.call_status("CA" + "0" * 32)
    assert (unreachable.value.kind, unreachable.value.transient) == (Failure.UNREACHABLE, True)
