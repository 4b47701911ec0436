"""The load: wrk, closed loop, for throughput; an open-loop sender for the capacity at real cadence.

Why wrk (Debian's `wrk` package): it is a small C load generator that one core drives far past
what the hotline can answer on the other, so the server is what is measured; its Lua hooks let
a run rotate thousands of pre-signed requests (each caller's own URL, fields and
X-Twilio-Signature) and check every answer's body, which a fixed-URL tool (ab, hey) cannot.
wrk is a closed loop: each connection sends its next request when the last answer came. That
measures what a server sustains, but not how long a caller waits when calls arrive on their
own schedule (a slow answer delays wrk's next request and hides itself: coordinated omission).
Twilio is an open loop: each waiting caller asks for their next turn when the music ends,
whether the server kept up or not. The capacity search therefore uses `open_loop` below: every
request is sent at its scheduled moment on a free keep-alive connection (a new one if none is
free) and its latency is counted from that moment.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.web.fill import Request

ROTATE_LUA = Path(__file__).with_name("rotate.lua")
RESULT = re.compile(
    r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) bad=(\d+) errors=(\d+)"
)


@dataclass(frozen=True)
class Result:
    """One run: requests answered, how long, latency percentiles, answers that were wrong."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int  # not 200, or without the text every good answer has (the overflow, an error page)
    errors: int  # socket errors and timeouts
    cpu_web: float = 0.0  # CPU seconds the web server used during the run
    cpu_redis: float = 0.0

    @property
    def rate(self) -> float:
        """Requests answered a second."""
        return self.requests / self.seconds if self.seconds else 0.0


def write_requests(path: Path, requests: list[Request]) -> Path:
    """The requests in rotate.lua's format."""
    lines = []
    for r in requests:
        headers = "\x01".join(f"{k}={v}" for k, v in r.headers.items())
        if any("\t" in part or "\n" in part for part in (r.path, headers, r.body)):
            raise ValueError("a request field holds a tab or a newline")
        lines.append("\t".join((r.method, r.path, headers, r.body)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wrk(url: str, requests_file: Path, marker: str, seconds: float, connections: int, core: int) -> Result:
    """One closed-loop wrk run (one thread, pinned to `core`)."""
    args = [
        "taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
        "-s", str(ROTATE_LUA), url, "--", str(requests_file), marker,
    ]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    found = RESULT.search(out.stdout)
    if found is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    n, us, p50, p99, bad, errors = (int(g) for g in found.groups())
    return Result(n, us / 1e6, p50 / 1000, p99 / 1000, bad, errors)


# -- open loop --------------------------------------------------------------------------------------


def raw(request: Request, host: str) -> bytes:
    """The request as bytes on the wire (HTTP/1.1, keep-alive)."""
    body = request.body.encode()
    head = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}"]
    head += [f"{k}: {v}" for k, v in request.headers.items()]
    if request.method == "POST":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class OpenLoopResult:
    """An open-loop run: what was scheduled, sent and answered, and the latencies."""

    scheduled: int
    answered: int
    bad: int
    errors: int
    p50_ms: float
    p99_ms: float
    late_sends: int  # sends the generator itself made over 10 ms after their moment (counted in
    # the latency all the same: a late send can only make the server look slower)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes, marker: bytes
) -> bool:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    return status == 200 and marker in body


async def _open_loop(
    port: int, payloads: list[bytes], period: float, seconds: float, marker: bytes, warmup: float
) -> OpenLoopResult:
    n = len(payloads)
    # Each caller turns every `period` seconds at their own phase (spread evenly, in a shuffled order).
    moments = sorted(
        ((i * 0.6180339887) % 1.0 * period + k * period, i)
        for i in range(n)
        for k in range(int((seconds + warmup) // period) + 1)
    )
    moments = [(t, i) for t, i in moments if t < seconds + warmup]
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    counts = {"bad": 0, "errors": 0, "late": 0, "answered": 0}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def exchange(payload: bytes) -> bool:
        # A kept-alive connection the server closed meanwhile (gunicorn's keep-alive is 2 s)
        # fails before any answer: the request goes again on a new connection, as an HTTP
        # client (Twilio's too) does; a new connection that fails is an error.
        while idle:
            conn = idle.pop()
            try:
                ok = await asyncio.wait_for(_exchange(*conn, payload, marker), timeout=10)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                conn[1].close()
                continue
            idle.append(conn)
            return ok
        conn = await asyncio.open_connection("127.0.0.1", port)
        ok = await asyncio.wait_for(_exchange(*conn, payload, marker), timeout=10)
        idle.append(conn)
        return ok

    async def one(moment: float, payload: bytes) -> None:
        late = loop.time() - (start + moment)
        measured = moment >= warmup
        if late > 0.010 and measured:
            counts["late"] += 1
        try:
            ok = await exchange(payload)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            counts["errors"] += measured
            return
        if not measured:
            return
        counts["answered"] += 1
        latencies.append(loop.time() - (start + moment))
        if not ok:
            counts["bad"] += 1

    tasks = []
    for moment, i in moments:
        delay = start + moment - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(moment, payloads[i])))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    latencies.sort()
    measured = sum(1 for t, _ in moments if t >= warmup)

    def pct(q: float) -> float:
        return latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000 if latencies else 0.0

    return OpenLoopResult(
        measured, counts["answered"], counts["bad"], counts["errors"], pct(0.5), pct(0.99), counts["late"]
    )


def open_loop(
    port: int, requests: list[Request], period: float, seconds: float, marker: str, warmup: float = 3.0
) -> OpenLoopResult:
    """Each caller turns every `period` s for `seconds` (after `warmup`), whatever the server does."""
    payloads = [raw(r, f"127.0.0.1:{port}") for r in requests]
    began = time.monotonic()
    result = asyncio.run(_open_loop(port, payloads, period, seconds, marker.encode(), warmup))
    if time.monotonic() - began > seconds + warmup + 30:
        raise RuntimeError("the open-loop run took far longer than planned")
    return result
