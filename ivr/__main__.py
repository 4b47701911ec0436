"""`python -m ivr` (`make run`): the whole hotline on this machine, no Twilio account needed.

Starts the embedded Redis (unless REDIS_URL is set), the web app under gunicorn and one rq
worker, then says how to call. Ctrl-C stops everything; the embedded Redis keeps its data in
.hotline-data/ for the next run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ivr.hotline.loader import ConfigError, load_hotline
from ivr.settings import Settings, SettingsError
from ivr.store import embedded_redis_url, stop_embedded_redis

# Local-only credentials: the stand-in for Twilio signs with the same token. Not secrets.
LOCAL_DEFAULTS = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "local-development-token",
}


def main() -> int:
    """Run web + worker until interrupted."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "5000")
    env = {**LOCAL_DEFAULTS, **os.environ}
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    try:
        settings = Settings.from_env(env)
        load_hotline(settings.hotline_config)
    except (SettingsError, ConfigError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if not settings.redis_url:
        env["REDIS_URL"] = embedded_redis_url(settings.data_dir)
        print(f"embedded Redis: {env['REDIS_URL']} (data in {settings.data_dir})")
    stop_api = None
    if "TWILIO_API_BASE_URL" not in os.environ:
        # No Twilio account: the app's REST calls (redirecting a caller to an agent, SMS) go to
        # the local stand-in for Twilio's API, served from this process.
        from standin.rest import Switchboard, create_rest_app, serve_in_thread

        api = create_rest_app(Switchboard(), settings.twilio_account_sid, settings.twilio_auth_token)
        env["TWILIO_API_BASE_URL"], stop_api = serve_in_thread(api, host)
        print(f"stand-in for Twilio's REST API: {env['TWILIO_API_BASE_URL']}")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--timeout", "20",
         "--bind", f"{host}:{port}", "wsgi:app"],
        env=env,
    )  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "queue_worker"], env=env)
    children = [web, worker]
    time.sleep(1.5)
    print(
        f"\nThe hotline answers at {env['PUBLIC_BASE_URL']}/voice/incoming\n"
        "Call it from another terminal:   make call\n"
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
