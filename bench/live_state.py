"""What the hold loop's wait estimate was fed, against what then happened, in the simulated hour.

`python -m bench.live_state --seeds 1 2 3` plays the traffic generator's hour
(`bench.traffic`, the real webhooks on a temporary embedded Redis) and records, at each
caller's first hold announcement, the `QueueState` that `ivr.waits.live` built together with a
snapshot of the queue and the agents (read separately, outside the webhook's budget). After the
hour it joins each announcement with the caller's fate and prints, per input, the live figure
against the real one:

- agents: what the state counted, against the agents that really served this caller's front
  (callers answered before them that were ahead or went ahead, plus the caller, times the real
  handle time, over the real wait);
- ahead: callers counted ahead, against those of them really served before the caller,
  abandoned first, or served after them (in a lane the caller's agents do not take);
- handle time (with wrap-up) and patience, against the simulation's own.

Then the announced range's coverage and error, two ways: over served callers, as the traffic
report counts them, and over every caller who heard a figure (abandoned callers weighted back
in by the inverse chance of still waiting, exp(wait / mean patience): patience is exponential
and independent of the queue, so this is the coverage callers who stayed would have seen).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ivr import keys
from ivr.waits.estimate import Estimate, QueueState, estimate

ENGAGED = ("reserved", "ringing", "on_call")


@dataclass
class Seen:
    """One caller's first announcement: the state live.py built and the queue around it."""

    sid: str
    t: float
    department: str
    language: str
    position: int
    state: QueueState
    estimate: Estimate | None
    ahead_sids: set[str]
    eligible: float  # staffed agents who take this department in this caller's language
    agents: list[dict[str, Any]] = field(default_factory=list)
    lanes: dict[tuple[str, str], int] = field(default_factory=dict)  # waiting per (department, language)
    ahead_by_lane: dict[str, int] = field(default_factory=dict)


def spoken_range(est: Estimate | None) -> tuple[float, float] | None:
    """The range a caller hears, in seconds, as the traffic report reads it back."""
    if est is None:
        return None
    return est.spoken().seconds()


def _snapshot(hotline: Any, record: Any, now: Any, wait: Any, t: float) -> Seen:
    conn = hotline.stores.data
    dept, sid = record.get("department"), record.sid
    lang = record.get("lang") or ""
    entry = conn.hget(keys.queue_waiting(dept), sid)
    ahead: set[str] = set()
    by_lane: dict[str, int] = {}
    if entry:
        score = entry.split("|")[1]
        for loc in hotline.queues.locales:
            found = conn.zrangebyscore(keys.queue(dept, loc), "-inf", f"({score}")
            ahead.update(found)
            by_lane[loc] = len(found)
    lanes = {
        (d, loc): int(conn.zcard(keys.queue(d, loc)))
        for d in hotline.config.file.departments
        for loc in hotline.queues.locales
    }
    agents = []
    eligible = 0.0
    for a in hotline.agents.all():
        if a.state not in ("ready", "reserved", "ringing", "on_call", "wrap_up"):
            continue
        talking = (
            conn.hget(keys.call(a.call_sid), "department") if a.call_sid and a.state in ENGAGED else None
        )
        agents.append(
            {"id": a.id, "departments": a.departments, "languages": a.languages, "state": a.state,
             "talking": talking}
        )  # fmt: skip
        if dept in a.departments and lang in a.languages:
            eligible += 1
    return Seen(
        sid, t, dept, lang, wait.position, wait.state, wait.estimate, ahead, eligible, agents, lanes, by_lane
    )


def run(seed: int, minutes: float) -> tuple[list[Seen], dict[str, Any], Any]:
    """Play the hour, recording each caller's first announcement; (announcements, callers, scenario)."""
    from bench.traffic import Simulation, local_hotline
    from bench.traffic_model import Scenario, default_agents
    from ivr.services import services
    from ivr.voice import waiting

    scenario = Scenario(minutes=minutes, seed=seed, agents=default_agents(minutes))
    seen: dict[str, Seen] = {}
    original = waiting.wait_for_caller

    def recording(live: Any, record: Any, now: Any) -> Any:
        wait = original(live, record, now)
        if record.sid not in seen and wait.position > 0:
            t = (now - scenario.start).total_seconds()
            seen[record.sid] = _snapshot(services(), record, now, wait, t)
        return wait

    waiting.wait_for_caller = recording
    try:
        with local_hotline(scenario) as (app, switchboard):
            sim = Simulation(app, scenario, switchboard)
            sim.run()
    finally:
        waiting.wait_for_caller = original
    return list(seen.values()), {c.call_sid: c for c in sim.callers}, scenario


def analyse(seen: list[Seen], callers: dict[str, Any], scenario: Any, hotline_wrap: dict[str, float]) -> dict:
    """The figures of one run (see the module's docstring)."""
    patience = scenario.patience_mean_seconds
    handles = [c.handle for c in callers.values() if c.handle]
    real_handle = sum(handles) / len(handles)
    rows = []
    for s in seen:
        c = callers[s.sid]
        served = c.outcome == "served"
        end = c.answered if served else c.ended
        if end is None:
            continue
        wait = end - s.t
        weight = math.exp(min(wait, 1800) / patience) if served else 0.0
        # The front: callers ahead, and later ones who went ahead, answered before this caller.
        before = [
            o
            for o in callers.values()
            if o.answered is not None
            and s.t < o.answered <= end
            and o.department == s.department
            and (o.call_sid in s.ahead_sids or (o.joined or 0) > s.t)
        ]
        ahead_served = sum(1 for o in before if o.call_sid in s.ahead_sids)
        overtook = len(before) - ahead_served
        ahead_gone = sum(
            1 for x in s.ahead_sids if callers[x].outcome == "abandoned" and (callers[x].ended or 0) <= end
        )
        skipped = len(s.ahead_sids) - ahead_served - ahead_gone
        rows.append(dict(
            s=s, c=c, served=served, wait=wait, weight=weight, ahead_served=ahead_served,
            overtook=overtook, ahead_gone=ahead_gone, skipped=skipped,
            wrap=hotline_wrap[s.department],
        ))  # fmt: skip
    return {"rows": rows, "real_handle": real_handle, "patience": patience}


def score(rows: list[dict], ranges: list[tuple[float, float] | None], means: list[float | None]) -> dict:
    """Coverage and error of announced ranges, over served callers and over all (weighted)."""
    inside = within20 = n = 0
    err = 0.0
    w_in = w_all = 0.0
    for r, rng, _mean in zip(rows, ranges, means, strict=True):
        if rng is None or not r["served"]:
            continue
        low, high = rng
        real = r["wait"]
        n += 1
        inside += low <= real <= high
        within20 += 0.8 * low <= real <= 1.2 * high
        err += abs(real - (low + high) / 2)
        w_all += r["weight"]
        w_in += r["weight"] * (low <= real <= high)
    return {
        "n": n,
        "covered": inside / n if n else math.nan,
        "within20": within20 / n if n else math.nan,
        "mae": err / n if n else math.nan,
        "covered_all": w_in / w_all if w_all else math.nan,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the inputs' biases and the announced range's coverage, per seed."""

    parser = argparse.ArgumentParser(prog="python -m bench.live_state", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args(argv)
    for seed in args.seeds:
        seen, callers, scenario = run(seed, args.minutes)
        wraps = _wraps()
        result = analyse(seen, callers, scenario, wraps)
        print_report(seed, result)
        print_variants(result["rows"], result["real_handle"], result["patience"])
        print_buckets(result["rows"], result["real_handle"], result["patience"])
    return 0


def _wraps() -> dict[str, float]:
    import yaml

    data = yaml.safe_load(Path("hotline.yaml").read_text())
    return {name: float(d.get("wrap_up_seconds", 30)) for name, d in data["departments"].items()}


def print_report(seed: int, result: dict) -> None:
    """The figures of one seed."""
    rows = result["rows"]
    served = [r for r in rows if r["served"]]
    w = sum(r["weight"] for r in served)

    def wmean(f: Any) -> float:
        return sum(r["weight"] * f(r) for r in served) / w

    print(f"seed {seed}: {len(rows)} callers heard a figure, {len(served)} served")
    sweep = 7.5  # wrap-ups end at the next 15 s sweep
    real_hold = result["real_handle"]
    print(f"  handle + wrap-up   live {wmean(lambda r: r['s'].state.mean_handle_seconds or 0):7.1f} s"
          f"   real {real_hold:.1f} + wrap-up + {sweep} s sweep"
          f" (payments {real_hold + 45 + sweep:.0f} s, others {real_hold + 30 + sweep:.0f} s)")  # fmt: skip
    pat = [r["s"].state.mean_patience_seconds for r in served]
    none = sum(1 for p in pat if p is None)
    known = [p for p in pat if p is not None]
    print(f"  patience           live {sum(known) / max(len(known), 1):7.1f} s (none: {none} of {len(pat)})"
          f"   real {result['patience']:.0f} s")  # fmt: skip
    # Agents really serving the caller's front: answers before them (+1) x handle / wait.
    busy = sum(r["weight"] * (r["ahead_served"] + r["overtook"] + 1) * (real_hold + r["wrap"] + sweep)
               for r in served if r["wait"] > 0)  # fmt: skip
    span = sum(r["weight"] * r["wait"] for r in served if r["wait"] > 0)
    print(f"  agents             live {wmean(lambda r: r['s'].state.agents):7.2f}"
          f"   eligible now {wmean(lambda r: r['s'].eligible):.2f}"
          f"   really serving the front {busy / span:.2f}")  # fmt: skip
    print(f"  ahead              live {wmean(lambda r: r['s'].state.ahead):7.2f}"
          f"   served first {wmean(lambda r: r['ahead_served']):.2f}"
          f"   abandoned first {wmean(lambda r: r['ahead_gone']):.2f}"
          f"   served after (other lane) {wmean(lambda r: r['skipped']):.2f}"
          f"   went ahead {wmean(lambda r: r['overtook']):.2f}")  # fmt: skip
    means = [r["s"].estimate.seconds if r["s"].estimate else None for r in rows]
    ranges = [spoken_range(r["s"].estimate) for r in rows]
    m = score(rows, ranges, means)
    bias = wmean(lambda r: (r["s"].estimate.seconds if r["s"].estimate else 0) - r["wait"])
    print(
        f"  announced range    covers {m['covered'] * 100:.1f} % of served callers"
        f" ({m['covered_all'] * 100:.1f} % of all, weighted), ±20 % {m['within20'] * 100:.1f} %,"
        f" mean abs. error {m['mae']:.1f} s; estimate - real wait (all, weighted) {bias:+.1f} s"
    )


def demand(s: Seen, department: str) -> int:
    """Callers of a department waiting or talking to an agent at the snapshot."""
    waiting = sum(n for (d, _), n in s.lanes.items() if d == department)
    return waiting + sum(1 for a in s.agents if a["talking"] == department)


def shared_agents(s: Seen, languages: bool) -> float:
    """Agents of the caller's department, each counted by its department's share of their demand."""
    total = 0.0
    for a in s.agents:
        if s.department not in a["departments"] or (languages and s.language not in a["languages"]):
            continue
        mine = max(demand(s, s.department), 1)
        total += mine / (mine + sum(demand(s, d) for d in a["departments"] if d != s.department))
    return total


def lane_ahead(s: Seen) -> float:
    """Callers ahead, those of other lanes weighted by the share of their agents who also take this one."""
    mine = [a for a in s.agents if s.department in a["departments"]]
    total = float(s.ahead_by_lane.get(s.language, 0))
    for loc, n in s.ahead_by_lane.items():
        if loc == s.language or not n:
            continue
        theirs = [a for a in mine if loc in a["languages"]]
        both = [a for a in theirs if s.language in a["languages"]]
        total += n * (len(both) / len(theirs) if theirs else 1.0)
    return total


def variants(rows: list[dict], real_handle: float, patience: float) -> dict[str, list]:
    """Estimates the announcements would have had with other inputs."""
    out: dict[str, list] = {}

    def true_inputs(st: QueueState, r: dict) -> QueueState:
        return replace(st, mean_handle_seconds=real_handle + r["wrap"] + 7.5, mean_patience_seconds=patience)

    makers = {
        "live": lambda st, r, s: st,
        "live, real handle and patience": lambda st, r, s: true_inputs(st, r),
        "shared by demand": lambda st, r, s: replace(st, agents=shared_agents(s, False)),
        "shared by demand, real handle and patience": lambda st, r, s: true_inputs(
            replace(st, agents=shared_agents(s, False)), r
        ),
        "by demand and language, lanes weighted": lambda st, r, s: replace(
            st, agents=shared_agents(s, True), ahead=round(lane_ahead(s))
        ),
        "by demand and language, lanes weighted, real handle and patience": lambda st, r, s: true_inputs(
            replace(st, agents=shared_agents(s, True), ahead=round(lane_ahead(s))), r
        ),
    }
    for name, make in makers.items():
        out[name] = [estimate(make(r["s"].state, r, r["s"])) for r in rows]
    return out


def print_variants(rows: list[dict], real_handle: float, patience: float) -> None:
    """Coverage and error of each variant."""
    served = [r for r in rows if r["served"]]
    w = sum(r["weight"] for r in served)
    for name, ests in variants(rows, real_handle, patience).items():
        m = score(rows, [spoken_range(e) for e in ests], [e.seconds if e else None for e in ests])
        bias = sum(
            r["weight"] * ((e.seconds if e else 0) - r["wait"])
            for r, e in zip(rows, ests, strict=True)
            if r["served"]
        )
        print(
            f"    {name:<66} covers {m['covered'] * 100:5.1f} % ({m['covered_all'] * 100:5.1f} % all),"
            f" ±20 % {m['within20'] * 100:5.1f} %, error {m['mae']:5.1f} s, bias {bias / w:+6.1f} s"
        )


def print_buckets(rows: list[dict], real_handle: float, patience: float) -> None:
    """By callers ahead: real wait against the estimate of each variant (weighted means)."""
    ests = variants(rows, real_handle, patience)
    served = [i for i, r in enumerate(rows) if r["served"]]
    for lo, hi in ((0, 0), (1, 1), (2, 3), (4, 99)):
        idx = [i for i in served if lo <= rows[i]["s"].state.ahead - rows[i]["s"].state.ready <= hi]
        if not idx:
            continue
        w = sum(rows[i]["weight"] for i in idx)
        real = sum(rows[i]["weight"] * rows[i]["wait"] for i in idx) / w
        line = f"    ahead-ready {lo}-{hi}: {len(idx):3d} callers, real wait {real:6.1f} s;"
        for name in ("live", "shared by demand", "shared by demand, real handle and patience"):
            e = sum(rows[i]["weight"] * (ests[name][i].seconds if ests[name][i] else 0) for i in idx) / w
            line += f" {name}: {e:6.1f}"
        ag = sum(rows[i]["weight"] * shared_agents(rows[i]["s"], False) for i in idx) / w
        live = sum(rows[i]["weight"] * rows[i]["s"].state.agents for i in idx) / w
        line += f" | agents live {live:.2f} by demand {ag:.2f}"
        print(line)


if __name__ == "__main__":
    raise SystemExit(main())
