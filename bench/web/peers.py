"""The apps the hotline is measured beside, served by the same gunicorn settings.

`floor`: a Flask app answering every POST with one static TwiML document (a hold turn's shape:
Say, Play, Redirect), rendered once at start. Nothing a webhook can do costs less; it is the floor.

`sample`: a phone tree in the style of TwilioDevEd's ivr-phone-tree sample (written here, not
copied): a welcome `Gather` and a menu that branches on `Digits`, each document built with
twilio's `VoiceResponse` on every request, no signature check and no Redis. It is what the
hotline's menu step is compared with: the same kind of work without what the hotline adds
(the signature check, the call's record and its write in Redis, prompts in two languages).

`signed`: the least a signed, Redis-backed hold turn can cost on this stack, answering the
hotline's own hold-turn requests on the same data: Flask, twilio's `RequestValidator.validate`
as its documentation shows it, one EVALSHA (redis-py's `register_script`, hiredis) that reads
the caller's status and place in the queue the turn's URL names, and a hold turn's document
built with `VoiceResponse` (the place said, the music, in the key Gather, then the next turn).
No wait estimate, no outage handling, no logs or metrics: what the hotline's hold turn adds
beyond it is the price of those.
"""

from __future__ import annotations

import os
from pathlib import Path

import redis
from flask import Flask, Response, request, url_for
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from ivr import keys
from ivr.hotline.loader import load_hotline

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


# The caller's place, if they are waiting (the status on their record): the hotline's queue
# layout (ivr/callcenter/queues.py), read in one script.
_PLACE_LUA = """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then return 0 end
local score = string.match(entry, '|(.*)$')
local ahead = 0
for i = 3, #KEYS do ahead = ahead + redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. score) end
return ahead + 1
"""


def create_signed(
    redis_url: str | None = None,
    auth_token: str | None = None,
    public_base_url: str | None = None,
    hotline_config: str | None = None,
) -> Flask:
    """The signed, Redis-backed hold turn (each argument defaults to the hotline's variable:
    REDIS_URL, TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL, HOTLINE_CONFIG)."""
    app = Flask("signed")
    base = public_base_url or os.environ["PUBLIC_BASE_URL"]
    validator = RequestValidator(auth_token or os.environ["TWILIO_AUTH_TOKEN"])
    conn = redis.Redis.from_url(redis_url or os.environ["REDIS_URL"], decode_responses=True)
    place = conn.register_script(_PLACE_LUA)
    locales = load_hotline(Path(hotline_config or os.environ["HOTLINE_CONFIG"])).locales

    @app.route("/", methods=["GET"])
    def home() -> str:
        return "signed hold turn"

    @app.post("/voice/hold")
    def hold() -> Response:
        query = request.query_string.decode()
        url = f"{base}{request.path}" + (f"?{query}" if query else "")
        if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
            return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")
        sid, department = request.form.get("CallSid", ""), request.args.get("d", "")
        lanes = [keys.queue(department, locale) for locale in locales]
        position = int(place(keys=[keys.call(sid), keys.queue_waiting(department), *lanes], args=[sid]))
        resp = VoiceResponse()
        if position == 0:
            resp.say("Please hold.", voice="Polly.Joanna", language="en-US")
            return _xml(resp)
        gather = resp.gather(
            num_digits=1, action=f"{base}/voice/callback/offer?{query}", timeout=1, finish_on_key=""
        )
        gather.say(f"There are {position - 1} callers ahead of you.", voice="Polly.Joanna", language="en-US")
        gather.play(HOLD_MUSIC)
        resp.redirect(url)
        return _xml(resp)

    return app


floor = create_floor()
sample = create_sample()
