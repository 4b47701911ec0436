"""The one codec of URL state and the one route table: same state, same bytes; garbage reads as unset."""

from __future__ import annotations

import pytest
from flask import Flask

from ivr import routes
from ivr.urlstate import Attempt, LoopState, NumberStep, Position, Slots, Transfer, Tries


def test_each_kind_writes_the_bytes_twilio_signed_before() -> None:
    assert (
        routes.path("step", Position("menu", "choose", 2, 1), node_id="menu")
        == "/voice/step/menu?phase=choose&try=2&c=1"
    )
    assert routes.path("step", Position("menu"), node_id="menu") == "/voice/step/menu?try=1"
    assert LoopState(3, 1700000000, True, True, 17).to_query() == "p=3&t=1700000000&k=1&h=1&g=17"
    assert routes.path("hold", LoopState(hint_said=True)) == "/voice/hold?h=1"
    assert routes.path("hold") == "/voice/hold"
    assert NumberStep("later", "cid", 1, "payments", 1700003600).to_query() == (
        "mode=later&phase=cid&try=1&department=payments&slot=1700003600"
    )
    assert (
        Slots("payments", "1700003600,1700007200", 2).to_query()
        == "department=payments&s=1700003600,1700007200&try=2"
    )
    assert (
        routes.path("transfer", Transfer(number="+8613800138000"))
        == "/voice/transfer?number=%2B8613800138000"
    )
    assert routes.url("https://hotline.example/", "callback_answer", Attempt("CA1", 2)) == (
        "https://hotline.example/voice/callback/answer?call=CA1&attempt=2"
    )


@pytest.mark.parametrize(
    "state",
    [
        Position("n", "verify", 3, 2),
        LoopState(1, 2, False, True, 0),
        Tries(4, "invalid"),
        Attempt("CA9", 1, "li_na"),
    ],
)
def test_a_state_reads_back_as_written(state: object) -> None:
    from urllib.parse import parse_qsl

    kind = type(state)
    read = kind.from_args(dict(parse_qsl(state.to_query())))  # type: ignore[attr-defined]
    assert read == (
        state
        if kind is not Position
        else kind("", *[getattr(state, f) for f in ("phase", "tries", "confirm")])
    )


def test_forged_or_garbled_values_read_as_unset_or_bounded() -> None:
    assert Position.from_args({"try": "-3", "c": "٣", "phase": "x" * 100}) == Position("", "x" * 16, 1, 0)
    assert Position.from_args({"try": "999999"}).tries == 20
    assert LoopState.from_args({"p": "1e3", "t": "", "k": "yes", "g": "9" * 40}) == LoopState()
    assert Tries.from_args({"try": "0"}).tries == 1


def test_every_route_is_served_and_every_webhook_has_a_route(app: Flask) -> None:
    served = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/voice/")}
    assert served == set(routes.ROUTES.values())
