"""`python -m bench.web` (`make webbench`): the webhook tier under HTTP load; see bench/web/__init__.py."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.web import fill as data
from bench.web.load import Result, open_loop, write_requests, wrk
from bench.web.servers import WebServer, cpu_seconds, pin, procfile_web_args
from ivr.store import embedded_redis

HOLD_OK = "/voice/callback/offer"  # in every hold turn's Gather (not in the overflow or outage answers)
MENU_OK = "/voice/step/fees_help"  # the fees answer's Gather
SAMPLE_OK = "/ivr/fees"
FLOOR_OK = "<Play>"
STATS_OK = '"queues"'
P99_LIMIT_MS = 100.0
SIGNED_APP = "bench.web.peers:create_signed()"  # gunicorn calls the factory: it reads the env


@dataclass(frozen=True)
class Row:
    """One line of the table: what is asked of which server."""

    label: str
    waiting: str  # the data set, as printed ("" for the peers)
    server: str
    make: str  # which requests (built afresh each round: a hold turn's URL carries the time)
    marker: str
    group: str  # rows of one group are compared across sizes (flatness)


def datasets(quick: bool) -> list[data.DataSet]:
    """The data sets: 100 / 10,000 / 100,000 waiting, in one department and spread over all."""
    sizes = [100, 10_000] if quick else [100, 10_000, 100_000]
    sets = [data.DataSet(f"{n:,} in one", n, False, 1 + i) for i, n in enumerate(sizes)]
    spread_sizes = [100, 10_000] if quick else [100, 100_000]
    sets += [data.DataSet(f"{n:,} spread", n, True, 8 + i) for i, n in enumerate(spread_sizes)]
    return sets


def rows_for(sets: list[data.DataSet]) -> list[Row]:
    """The table's rows: the peers, then every webhook on every data set."""
    rows = [
        Row("static TwiML (floor)", "", "floor", "floor", FLOOR_OK, "floor"),
        Row("sample-style menu (no signature, no Redis)", "", "sample", "sample", SAMPLE_OK, "sample"),
        # The hotline's own hold turns (middle of the largest queue) to the least signed,
        # Redis-backed hold turn (bench/web/peers.py), on the same data.
        Row("signed hold turn (peer)", signed_set(sets).name, "signed", "middle", HOLD_OK, "signed"),
    ]
    for s in sets:
        layout = "spread" if s.spread else "one"
        rows.append(Row("menu step", s.name, s.name, "menu", MENU_OK, f"menu/{layout}"))
        for where in ("head", "middle", "tail"):
            rows.append(Row(f"hold turn, {where}", s.name, s.name, where, HOLD_OK, f"hold-{where}/{layout}"))
        rows.append(Row("GET /api/supervisor/queues", s.name, s.name, "stats", STATS_OK, f"stats/{layout}"))
    return rows


def signed_set(sets: list[data.DataSet]) -> data.DataSet:
    """The data set the signed peer answers on: the largest in one department."""
    return max((s for s in sets if not s.spread), key=lambda s: s.waiting)


def build(row: Row, filled: dict[str, data.Filled]) -> list[data.Request]:
    """The requests of a row, signed now."""
    if row.make == "floor":
        return [data.floor_request()]
    if row.make == "sample":
        return [data.sample_menu("2")]
    f = filled[row.waiting]
    if row.make == "menu":
        return [data.menu_step(sid) for sid in f.menu]
    if row.make == "stats":
        return [data.supervisor_queues(f.token)]
    now = time.time()
    return [data.hold_turn(sid, pos, now, dept) for sid, pos, dept in f.at(row.make, 32)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def cost(r: Result) -> float:
    """CPU seconds a request (web server and Redis)."""
    return (r.cpu_web + r.cpu_redis) / r.requests if r.requests else 0.0


def ratios(runs: list[Result], floors: dict[int, Result]) -> tuple[list[float], list[float]]:
    """Per round, the row against the floor: by requests a second, and by CPU a request (what one
    core would serve: the floor's CPU a request over the row's)."""
    by_rate = [r.rate / floors[k].rate for k, r in enumerate(runs) if k in floors and floors[k].rate]
    by_cpu = [cost(floors[k]) / cost(r) for k, r in enumerate(runs) if k in floors and cost(r)]
    return by_rate, by_cpu


def table(rows: list[Row], results: dict[int, list[Result]], floors: dict[int, Result]) -> str:
    """The measured rows: throughput, ratios to the floor (medians of the rounds'), latency, CPU."""
    head = (
        f"{'what':<42} {'waiting':>16} {'req/s':>6} {'x floor':>8} {'x floor':>8} {'rounds':>10} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>14} {'wrong':>5}"
    )
    under = (
        f"{'':<42} {'':>16} {'':>6} {'req/s':>8} {'CPU':>8} {'(CPU)':>10} {'':>7} {'':>7} {'web + Redis':>14}"
    )
    lines = [head, under, "-" * len(head)]
    for i, row in enumerate(rows):
        runs = results[i]
        by_rate, by_cpu = ratios(runs, floors)
        n = sum(r.requests for r in runs)
        web = sum(r.cpu_web for r in runs) / n * 1000 if n else 0.0
        red = sum(r.cpu_redis for r in runs) / n * 1000 if n else 0.0
        wrong = sum(r.bad + r.errors for r in runs)
        spread = f"{min(by_cpu):.2f}-{max(by_cpu):.2f}" if by_cpu else ""
        lines.append(
            f"{row.label:<42} {row.waiting:>16} {median([r.rate for r in runs]):>6.0f} "
            f"{median(by_rate):>8.2f} {median(by_cpu):>8.2f} {spread:>10} "
            f"{median([r.p50_ms for r in runs]):>7.1f} {median([r.p99_ms for r in runs]):>7.1f} "
            f"{web:>6.2f} + {red:>5.2f} {wrong:>5}"
        )
    return "\n".join(lines)


def flatness(rows: list[Row], results: dict[int, list[Result]], floors: dict[int, Result]) -> str:
    """Per webhook and layout: the most over the least CPU a request across the data sets."""
    by_group: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for i, row in enumerate(rows):
        if "/" in row.group:
            by_group[row.group].append((row.waiting, median([cost(r) * 1000 for r in results[i]])))
    lines = ["", "flat from the smallest queue to the largest: most / least CPU a request (medians, ms):"]
    for group, points in by_group.items():
        values = [v for _, v in points if v]
        if len(values) > 1:
            detail = ", ".join(f"{w}: {v:.2f}" for w, v in points)
            lines.append(f"  {group:<18} {max(values) / min(values):.2f}x   ({detail})")
    return "\n".join(lines)


def capacity(server: WebServer, filled: data.Filled, seconds: float, limit: int, tries: int) -> list[str]:
    """The most callers held at the real hold cadence (open loop): p99 < 100 ms and nothing wrong."""
    everyone = filled.callers()
    lines = [
        "",
        f"capacity at the real hold cadence: each caller one turn every {data.HOLD_CADENCE_SECONDS} s, "
        f"open loop, {seconds:g} s a step, on {len(everyone):,} waiting ({filled.data.name})",
        f"  {'callers':>8} {'turns/s':>8} {'answered':>9} {'p50 ms':>7} {'p99 ms':>7} {'wrong':>5} "
        f"{'late':>5}  web CPU",
    ]

    def attempt(n: int) -> bool:
        """A step passes when one of `tries` runs does (each run is printed)."""
        return any(run(n) for _ in range(tries))

    def run(n: int) -> bool:
        step = max(len(everyone) // n, 1)
        chosen = everyone[::step][:n]
        now = time.time()
        requests = [data.hold_turn(sid, pos, now, dept) for sid, pos, dept in chosen]
        cpu0 = server.cpu()
        res = open_loop(server.port, requests, data.HOLD_CADENCE_SECONDS, seconds, HOLD_OK)
        busy = (server.cpu() - cpu0) / (seconds + 3)
        wrong = res.bad + res.errors + (res.scheduled - res.answered - res.errors)
        ok = wrong == 0 and res.p99_ms < P99_LIMIT_MS
        lines.append(
            f"  {n:>8,} {n / data.HOLD_CADENCE_SECONDS:>8.0f} {res.answered:>9,} {res.p50_ms:>7.1f} "
            f"{res.p99_ms:>7.1f} {wrong:>5} {res.late_sends:>5}  {busy * 100:.0f}% of a core  "
            f"{'ok' if ok else 'FAIL'}"
        )
        print(lines[-1], flush=True)
        return ok

    best, worst, n = 0, 0, 5_000
    while n <= min(limit, len(everyone)):
        if attempt(n):
            best, n = n, n * 2
        else:
            worst = n
            break
    if worst == 0 and best < min(limit, len(everyone)):
        n = min(limit, len(everyone))
        if attempt(n):
            best = n
        else:
            worst = n
    while worst and worst - best > max(best // 8, 1_000):
        n = (best + worst) // 2
        if attempt(n):
            best = n
        else:
            worst = n
    lines.append(f"  largest number held: {best:,} callers ({best / data.HOLD_CADENCE_SECONDS:.0f} turns/s)")
    return lines


def stop_redis(url: str) -> None:
    """Shut the benchmark's own Redis down without saving: its data is thrown away (saving a
    hundred thousand callers would outlast the client's timeout on a busy machine)."""
    try:
        redis.Redis.from_url(url, socket_timeout=30).shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # a server that shuts down closes the connection before answering


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 and 10,000 waiting, 2 rounds of 3 s")
    parser.add_argument("--rounds", type=int, help="rounds over every row (default 3; quick 2)")
    parser.add_argument("--seconds", type=float, help="seconds of each wrk run (default 4; quick 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections (default 16)")
    parser.add_argument("--capacity-seconds", type=float, help="seconds of each capacity step (default 20)")
    parser.add_argument(
        "--capacity-limit", type=int, default=100_000, help="stop the search at this many callers"
    )
    parser.add_argument("--no-capacity", action="store_true", help="skip the capacity search")
    parser.add_argument(
        "--capacity-tries", type=int, default=2,
        help="runs of a capacity step before it fails (default 2: the machine may be shared)",
    )  # fmt: skip
    parser.add_argument(
        "--capacity-only", action="store_true",
        help="only the capacity search, on the largest one-department data set",
    )  # fmt: skip
    parser.add_argument("--base-port", type=int, default=8100, help="first of the ports used (default 8100)")
    parser.add_argument("--server-core", type=int, default=1, help="the core of gunicorn and Redis")
    parser.add_argument("--load-core", type=int, default=0, help="the core of wrk and this process")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="WEB_CONCURRENCY (default 2 workers, of the Procfile's threads)",
    )
    opts = parser.parse_args(argv)
    rounds = 0 if opts.capacity_only else opts.rounds or (2 if opts.quick else 3)
    seconds = opts.seconds or (3.0 if opts.quick else 4.0)
    cap_seconds = opts.capacity_seconds or (10.0 if opts.quick else 20.0)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {opts.load_core})
    work = Path(tempfile.mkdtemp(prefix="hotline-webbench-"))
    redis_dir = work / "redis"
    servers: list[WebServer] = []
    embedded = embedded_redis(redis_dir)
    try:
        pin(embedded.pid, opts.server_core)
        hotline_file = data.bench_hotline_file(work)
        sets = datasets(opts.quick)
        if opts.capacity_only:
            sets = [max((s for s in sets if not s.spread), key=lambda s: s.waiting)]
        filled: dict[str, data.Filled] = {}
        for s in sets:
            url = f"{embedded.url}?db={s.db}"
            filled[s.name] = data.fill(s, url, hotline_file, work)
            print(
                f"filled {s.name}: {s.waiting:,} waiting in {filled[s.name].seconds:.0f} s, "
                f"{filled[s.name].bytes_per_caller:,.0f} bytes of Redis memory a waiting caller",
                flush=True,
            )
        base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "REDIS_", "TWILIO_"))
        }
        port = opts.base_port
        peers = {"floor": "bench.web.peers:floor", "sample": "bench.web.peers:sample"}
        by_name: dict[str, WebServer] = {}
        for name, app in peers.items():
            by_name[name] = WebServer(name, port, base_env, opts.server_core, work, app)
            port += 1
        if not opts.capacity_only:
            env = {**base_env, **data.app_env(f"{embedded.url}?db={signed_set(sets).db}", hotline_file, work)}
            by_name["signed"] = WebServer("signed", port, env, opts.server_core, work, SIGNED_APP)
            port += 1
        for s in sets:
            env = {**base_env, **data.app_env(f"{embedded.url}?db={s.db}", hotline_file, work)}
            by_name[s.name] = WebServer(
                s.name.replace(" ", "-").replace(",", ""), port, env, opts.server_core, work, "wsgi:app"
            )
            port += 1
        servers = list(by_name.values())
        for server in servers:
            server.start(opts.workers)
        for server in servers:
            server.wait_ready(opts.workers)
        rows = [] if opts.capacity_only else rows_for(sets)
        files = {}
        for i, row in enumerate(rows):  # warm each server and row up (imports, connections, scripts)
            files[i] = write_requests(work / f"row-{i}.txt", build(row, filled))
            wrk(by_name[row.server].url, files[i], row.marker, 1, opts.connections, opts.load_core)
        results: dict[int, list[Result]] = defaultdict(list)
        floors: dict[int, Result] = {}
        for k in range(rounds):
            order = list(range(len(rows)))
            order = order[k % len(order) :] + order[: k % len(order)]  # interleaved, a new start each round
            for i in order:
                row = rows[i]
                server = by_name[row.server]
                write_requests(files[i], build(row, filled))
                web0, red0 = server.cpu(), cpu_seconds(embedded.pid)
                res = wrk(server.url, files[i], row.marker, seconds, opts.connections, opts.load_core)
                res = Result(res.requests, res.seconds, res.p50_ms, res.p99_ms, res.bad, res.errors,
                             server.cpu() - web0, cpu_seconds(embedded.pid) - red0)  # fmt: skip
                results[i].append(res)
                if row.make == "floor":
                    floors[k] = res
            print(f"round {k + 1} of {rounds} done", flush=True)
        print()
        print(
            f"gunicorn as in the Procfile ({' '.join(procfile_web_args(opts.base_port, opts.workers)[1:7])})"
            f", and Redis on core "
            f"{opts.server_core}; wrk (1 thread, {opts.connections} connections, closed loop) on core "
            f"{opts.load_core}; {rounds} interleaved rounds of {seconds:g} s per row; medians.\n"
            "x floor: against the static floor of the same round, by requests a second, and by CPU a "
            "request (the floor's over the row's: what a core of its own would serve)"
        )
        if rows:
            print(table(rows, results, floors))
            print(flatness(rows, results, floors))
        print("\nRedis memory a waiting caller (call record, queue entries, counters):")
        for s in sets:
            print(f"  {s.name:<16} {filled[s.name].bytes_per_caller:>7,.0f} bytes")
        if not opts.no_capacity:
            largest = max((s for s in sets if not s.spread), key=lambda s: s.waiting)
            for line in capacity(
                by_name[largest.name],
                filled[largest.name],
                cap_seconds,
                opts.capacity_limit,
                opts.capacity_tries,
            ):
                print(line)
        return 0
    finally:
        for server in servers:
            server.stop()
        stop_redis(embedded.url)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
