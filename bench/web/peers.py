"""The two apps the hotline is measured beside, served by the same gunicorn settings.

`floor`: a Flask app answering every POST with one static TwiML document (a hold turn's shape:
Say, Play, Redirect), rendered once at start. Nothing a webhook can do costs less; it is the floor.

`sample`: a phone tree in the style of TwilioDevEd's ivr-phone-tree sample (written here, not
copied): a welcome `Gather` and a menu that branches on `Digits`, each document built with
twilio's `VoiceResponse` on every request, no signature check and no Redis. It is what the
hotline's menu step is compared with: the same kind of work without what the hotline adds
(the signature check, the call's record and its write in Redis, prompts in two languages).
"""

from __future__ import annotations

from flask import Flask, Response, request, url_for
from twilio.twiml.voice_response import VoiceResponse

HOLD_MUSIC = "https://hotline.example.com/audio/hold.mp3"


def _static_document() -> str:
    resp = VoiceResponse()
    resp.say("Your call is in the queue. Please stay on the line.", voice="Polly.Joanna", language="en-US")
    resp.play(HOLD_MUSIC)
    resp.redirect("https://hotline.example.com/voice/hold")
    return str(resp)


def create_floor() -> Flask:
    """The static-TwiML floor."""
    app = Flask("floor")
    body = _static_document()

    @app.route("/", methods=["GET", "POST"])
    @app.route("/<path:anything>", methods=["GET", "POST"])
    def document(anything: str = "") -> Response:
        return Response(body, mimetype="text/xml")

    return app


def _xml(resp: VoiceResponse) -> Response:
    return Response(str(resp), mimetype="text/xml")


def create_sample() -> Flask:
    """A welcome menu and its branches, as a sample IVR would have them."""
    app = Flask("sample")

    @app.route("/", methods=["GET"])
    def home() -> str:
        return "sample phone tree"

    @app.post("/ivr/welcome")
    def welcome() -> Response:
        resp = VoiceResponse()
        gather = resp.gather(num_digits=1, action=url_for("menu"), method="POST")
        gather.say(
            "Thanks for calling the payments hotline. For a failed top-up, press 1. "
            "For fees, press 2. For an agent, press 3.",
            loop=2,
        )
        return _xml(resp)

    @app.post("/ivr/menu")
    def menu() -> Response:
        choice = request.form.get("Digits", "")
        resp = VoiceResponse()
        if choice == "1":
            resp.say("A failed top-up is refunded to your card within three working days.")
            resp.say("Thank you for calling. Goodbye.")
            resp.hangup()
        elif choice == "2":
            gather = resp.gather(num_digits=1, action=url_for("fees"), method="POST")
            gather.say(
                "Transfers between accounts are free. Withdrawals cost 0.1 percent. "
                "For cross-border fees, press 1. For the main menu, press 2."
            )
        elif choice == "3":
            resp.say("Connecting you to an agent.")
            resp.dial("+864001234567")
        else:
            resp.redirect(url_for("welcome"))
        return _xml(resp)

    @app.post("/ivr/fees")
    def fees() -> Response:
        resp = VoiceResponse()
        if request.form.get("Digits") == "1":
            resp.say("Cross-border fees depend on the region and are shown before you confirm.")
        resp.redirect(url_for("welcome"))
        return _xml(resp)

    return app


floor = create_floor()
sample = create_sample()
