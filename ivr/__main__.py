"""`python -m ivr` (`make run`): the whole hotline on this machine, no Twilio account needed.

Starts the embedded Redis (unless REDIS_URL is set), the web app under gunicorn, one rq
worker and, without a Twilio account, the stand-in for Twilio on `STANDIN_PORT` (5001): its REST
API and its live calls (the terminal phone dials through it, agent consoles are rung by it).
Then it says how to call and how to answer, with a token for a demo agent. Ctrl-C stops
everything; the embedded Redis keeps its data in .hotline-data/ for the next run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import redis

from ivr.api.auth import issue_token
from ivr.clock import speed_from_env
from ivr.hotline.loader import ConfigError, load_hotline
from ivr.settings import Settings, SettingsError
from ivr.store import embedded_redis_url, stop_embedded_redis

# Local-only credentials: the stand-in for Twilio signs with the same token. Not secrets.
LOCAL_DEFAULTS = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "local-development-token",
}
STANDIN_PORT = "5001"  # the stand-in for Twilio (REST API and live calls), next to the web's 5000


def standin_url(env: dict[str, str] | os._Environ[str]) -> str:
    """Where `make run` serves the stand-in for Twilio (the terminal phone and console look there)."""
    return f"http://{env.get('HOST', '127.0.0.1')}:{env.get('STANDIN_PORT') or STANDIN_PORT}"


def main() -> int:
    """Run web + worker until interrupted."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "5000")
    env = {**LOCAL_DEFAULTS, **os.environ}
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    try:
        settings = Settings.from_env(env)
        hotline_file = load_hotline(settings.hotline_config).file
        speed = speed_from_env(env.get("HOTLINE_CLOCK_SPEED"))
    except (SettingsError, ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if env.get("HOTLINE_CLOCK_SPEED") or env.get("HOTLINE_CLOCK_START"):
        # One simulated clock for every process: the same start, read at the same real instant.
        env.setdefault("HOTLINE_CLOCK_START", datetime.now(UTC).isoformat())
        env.setdefault("HOTLINE_CLOCK_ORIGIN", str(time.time()))
    if not settings.redis_url:
        env["REDIS_URL"] = embedded_redis_url(settings.data_dir)
        print(f"embedded Redis: {env['REDIS_URL']} (data in {settings.data_dir})")
    stop_api = None
    if "TWILIO_API_BASE_URL" not in os.environ:
        # No Twilio account: the stand-in for Twilio, served from this process, owns the calls
        # and serves the REST API the app calls (redirecting a caller to an agent, SMS).
        from standin.control import add_control
        from standin.live import LiveCalls
        from standin.rest import Switchboard, create_rest_app, serve_in_thread
        from standin.transport import HttpTransport

        switchboard, public = Switchboard(), env["PUBLIC_BASE_URL"]
        token = settings.twilio_auth_token
        live = LiveCalls(
            switchboard, lambda: HttpTransport(public, token), settings.twilio_account_sid, speed=speed
        )
        api = create_rest_app(switchboard, settings.twilio_account_sid, token)
        add_control(api, live)
        standin_port = int(env.get("STANDIN_PORT") or STANDIN_PORT)
        try:
            env["TWILIO_API_BASE_URL"], stop_api = serve_in_thread(api, host, standin_port)
        except OSError as exc:
            print(
                f"STANDIN_PORT: cannot serve the stand-in for Twilio on {host}:{standin_port}: {exc}",
                file=sys.stderr,
            )
            return 2
        print(f"stand-in for Twilio (REST API and live calls): {env['TWILIO_API_BASE_URL']}")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--timeout", "20",
         "--bind", f"{host}:{port}", "wsgi:app"],
        env=env,
    )  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "queue_worker"], env=env)
    children = [web, worker]
    time.sleep(1.5)
    demo = hotline_file.agents[0] if hotline_file.agents else None
    answer = ""
    if demo is not None:
        try:
            agent_token = issue_token(redis.Redis.from_url(env["REDIS_URL"]), "agent", demo.id)
            answer = (
                f"Answer as agent {demo.id} ({demo.name}, {', '.join(demo.departments)}) in a third:\n"
                f'    make console ARGS="--token {agent_token}"\n'
            )
        except redis.RedisError as exc:
            answer = f"(no demo agent token: Redis did not answer: {exc})\n"
    print(
        f"\nThe hotline answers at {env['PUBLIC_BASE_URL']}/voice/incoming\n"
        "Call it from another terminal:\n    make call\n"
        f"{answer}"
        "(or point a Twilio number's Voice URL at it through a tunnel; see README.md)\n"
        "Ctrl-C stops the hotline.\n",
        flush=True,
    )

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    # Both signals explicitly: a launcher started in the background inherits an ignored SIGINT.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop()
    for child in children:
        child.wait(timeout=15)
    if stop_api is not None:
        stop_api()
    if not settings.redis_url:
        stop_embedded_redis(settings.data_dir)  # saved to .hotline-data/ for the next run
    return 0


if __name__ == "__main__":
    sys.exit(main())
