"""The whole live stand-in for Twilio on one port: its REST API, live calls, outbound calls and control API.

What `make run` serves when there is no Twilio account, and what the fault benchmark and the
outbound-call tests start: the app's REST client points its `TWILIO_API_BASE_URL` at ``url``,
phones and consoles reach the live calls through ``/control`` there, and the calls the app
places ring them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from standin.control import add_control
from standin.live import LiveCalls
from standin.outbound import Dialler
from standin.rest import Switchboard, create_rest_app, serve_in_thread
from standin.transport import Transport


@dataclass
class LiveStandin:
    """A served live stand-in: where it answers, its calls, and how to stop it."""

    url: str
    switchboard: Switchboard
    live: LiveCalls
    _stop_server: Callable[[], None]

    def stop(self) -> None:
        """Stop serving; the switchboard (which may outlive it) no longer dials."""
        self.switchboard.dialer = None
        self._stop_server()


def serve_live_standin(
    transport_factory: Callable[[], Transport],
    account_sid: str,
    auth_token: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    switchboard: Switchboard | None = None,
    **live_options: Any,
) -> LiveStandin:
    """Serve the live stand-in on ``host:port`` (0: a free port); OSError if it cannot listen.

    ``transport_factory`` makes each call's signed way to the app; ``live_options`` go to
    `LiveCalls` (speed, play seconds, dropped status callbacks, seed).
    """
    switchboard = switchboard if switchboard is not None else Switchboard()
    live = LiveCalls(switchboard, transport_factory, account_sid, **live_options)
    switchboard.dialer = Dialler(live)  # the app's outbound calls ring the phones and consoles
    api = create_rest_app(switchboard, account_sid, auth_token)
    add_control(api, live)
    try:
        url, stop = serve_in_thread(api, host, port)
    except OSError:
        switchboard.dialer = None
        raise
    return LiveStandin(url, switchboard, live, stop)
