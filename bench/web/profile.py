"""`python -m bench.web.profile`: where one request's CPU goes, in process, without HTTP.

The web benchmark says what a webhook costs under gunicorn; this says why. It fills one data set
as the benchmark does (bench/web/fill.py), builds the hotline's WSGI app in this process, and
calls it with the benchmark's own pre-signed requests (a hold turn at the middle of the queue, a
menu step) laid out as gunicorn hands them over (a WSGI environ), one thread: CPU microseconds a
request by `time.process_time`, and with `--profile` the top of cProfile's table. The static
floor and the sample-style app are measured the same way, for scale. No sockets, no gunicorn: the
figures are lower than the benchmark's by what those cost.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.web import fill as data
from bench.web.peers import create_floor, create_sample, create_signed
from bench.web.servers import pin
from ivr import create_app
from ivr.store import embedded_redis

MENU_OK = "/voice/step/"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ(request: data.Request) -> dict[str, Any]:
    """The WSGI environ of a request as it reaches the app behind the TLS proxy."""
    path, _, query = request.path.partition("?")
    builder = EnvironBuilder(
        path=path,
        query_string=query,
        method=request.method,
        headers=list(request.headers.items()),
        data=request.body.encode() if request.body else None,
        base_url="http://127.0.0.1:8000",
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def call(app: WsgiApp, env: dict[str, Any]) -> bytes:
    """One request through the app (a fresh body stream each time), its answer's body."""
    env = dict(env)
    body = env["wsgi.input"].getvalue() if hasattr(env["wsgi.input"], "getvalue") else b""
    env["wsgi.input"] = io.BytesIO(body)
    status: list[str] = []
    out = b"".join(app(env, lambda s, h, *a: status.append(s)))
    if not status or not status[0].startswith("200"):
        raise RuntimeError(f"{env['PATH_INFO']}: {status} {out[:300]!r}")
    return out


def measure(app: WsgiApp, envs: list[dict[str, Any]], count: int, marker: str, threads: int = 1) -> float:
    """CPU microseconds a request (the whole process's) over `count` requests rotating through
    `envs`, sent by `threads` threads at once (as gunicorn's threaded worker runs them)."""
    for env in envs:
        if marker.encode() not in call(app, env):
            raise RuntimeError(f"{env['PATH_INFO']}: the answer lacks {marker!r}")

    def send(first: int) -> None:
        for i in range(first, count, threads):
            call(app, envs[i % len(envs)])

    began = time.process_time()
    if threads == 1:
        send(0)
    else:
        workers = [threading.Thread(target=send, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return (time.process_time() - began) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web.profile", description=__doc__)
    parser.add_argument(
        "--waiting", default="1000",
        help="callers waiting in one department; several (100,10000,...): a data set each, interleaved",
    )  # fmt: skip
    parser.add_argument(
        "--classes", action="store_true",
        help="the callers spread over every department, of every class (one in four of the first, "
        "one in four of the next), the hold turns of callers of the last: every kept arrival list "
        "full from 2,560 waiting",
    )  # fmt: skip
    parser.add_argument("--count", type=int, default=3000, help="requests a measurement")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--top", type=int, default=40, help="rows of the profile")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the rows")
    parser.add_argument("--only", default="", help="only the rows whose label holds this text")
    parser.add_argument(
        "--redis-core", default="",
        help="pin this process to core 1 and Redis to these cores in turn (e.g. 1,0: on the same "
        "core as the app, as the web benchmark runs them, then on the other)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", default="1",
        help="threads sending at once, or several to compare (e.g. 1,16): CPU a request by each",
    )  # fmt: skip
    opts = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hotline-webprofile-"))
    embedded = embedded_redis(work / "redis")
    try:
        hotline_file = data.bench_hotline_file(work)
        now = time.time()
        apps: list[WsgiApp] = []
        rows: list[tuple[str, WsgiApp, list[dict[str, Any]], str]] = [
            ("static TwiML (floor)", create_floor(), [environ(data.floor_request())], "<Play>"),
            ("sample-style menu", create_sample(), [environ(data.sample_menu("2"))], "/ivr/fees"),
        ]
        sizes = [int(n) for n in opts.waiting.split(",")]
        for i, waiting in enumerate(sizes):  # each data set in its own database, its own app
            if opts.classes:
                s = data.DataSet(f"{waiting:,} spread, every class", waiting, True, 1 + i, classes=True)
            else:
                s = data.DataSet(f"{waiting:,} in one", waiting, False, 1 + i)
            url = f"{embedded.url}?db={s.db}"
            filled = data.fill(s, url, hotline_file, work)
            env = data.app_env(url, hotline_file, work)
            settings = {
                "twilio_account_sid": env["TWILIO_ACCOUNT_SID"],
                "twilio_auth_token": env["TWILIO_AUTH_TOKEN"],
                "twilio_api_base_url": env["TWILIO_API_BASE_URL"],
                "public_base_url": env["PUBLIC_BASE_URL"],
                "redis_url": url,
                "hotline_config": hotline_file,
                "data_dir": work / "data",
            }
            app = create_app(settings)
            apps.append(app)
            at = f", {s.name}" if len(sizes) > 1 else ""

            def turns(where: str, filled: data.Filled = filled) -> list[dict[str, Any]]:
                callers = filled.at(where, 32)
                if opts.classes:  # callers of the last class, whom every higher class overtakes
                    callers = [c for c in filled.at(where, 128) if c[0] in filled.last_class][:32]
                return [environ(data.hold_turn(sid, p, now, d)) for sid, p, d in callers]

            signed = create_signed(url, env["TWILIO_AUTH_TOKEN"], env["PUBLIC_BASE_URL"], str(hotline_file))
            rows += [
                (f"signed peer, middle{at}", signed, turns("middle"), "/voice/callback/offer"),
                (
                    f"menu step{at}",
                    app,
                    [environ(data.menu_step(sid)) for sid in filled.menu],
                    "/voice/step/",
                ),
                (f"hold turn, middle{at}", app, turns("middle"), "/voice/callback/offer"),
                (f"hold turn, tail{at}", app, turns("tail"), "/voice/callback/offer"),
                (f"statistics{at}", app, [environ(data.supervisor_queues(filled.token))], '"queues"'),
            ]
        rows = [row for row in rows if opts.only in row[0] or row[0].startswith("static")]
        thread_counts = [int(n) for n in opts.threads.split(",")]
        redis_cores = [int(c) for c in opts.redis_core.split(",")] if opts.redis_core else [-1]
        if opts.redis_core:
            os.sched_setaffinity(0, {1})
        variants = [(n, core) for n in thread_counts for core in redis_cores]
        measured: dict[tuple[str, int, int], list[float]] = {(r[0], *v): [] for r in rows for v in variants}
        for _ in range(opts.rounds):  # interleaved: a shared machine's drift hits every row alike
            for label, wsgi, envs, marker in rows:
                for n, core in variants:
                    if core >= 0:
                        pin(embedded.pid, core)
                    measured[label, n, core].append(measure(wsgi, envs, opts.count, marker, n))
        for (label, n, core), values in measured.items():
            us, floor = min(values), min(measured[rows[0][0], n, core])
            where = f", Redis on core {core}" if core >= 0 else ""
            print(
                f"{label:<36} {us:8.0f} us CPU a request (least of the rounds; most {max(values):.0f}; "
                f"{us / floor:5.1f}x the floor; {opts.rounds} x {opts.count} requests, {n} thread(s){where})",
                flush=True,
            )
        if len(sizes) > 1:  # the same webhook on every data set: the most over the least
            print("\nflat from the smallest queue to the largest: most / least (least of the rounds):")
            for kind in (
                "signed peer, middle",
                "menu step",
                "hold turn, middle",
                "hold turn, tail",
                "statistics",
            ):
                for n in thread_counts:
                    points = [
                        min(v)
                        for (label, m, _core), v in measured.items()
                        if label.startswith(f"{kind},") and m == n
                    ]
                    if len(points) == len(sizes):
                        detail = ", ".join(f"{us:.0f}" for us in points)
                        print(f"  {kind:<20} {max(points) / min(points):.2f}x   ({detail} us; {n} thread(s))")
        if opts.profile:
            for label, wsgi, envs, _marker in [row for row in rows if row[1] in apps]:
                prof = cProfile.Profile()
                prof.enable()
                for i in range(opts.count):
                    call(wsgi, envs[i % len(envs)])
                prof.disable()
                for order in ("tottime", "cumulative"):
                    out = io.StringIO()
                    pstats.Stats(prof, stream=out).sort_stats(order).print_stats(opts.top)
                    print(f"{label}, by {order}:\n{out.getvalue()}")
        return 0
    finally:
        import redis

        try:
            redis.Redis.from_url(embedded.url).shutdown(nosave=True)
        except redis.ConnectionError:
            pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
