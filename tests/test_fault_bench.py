"""The fault benchmark's smallest run: real processes, three live callers, one worker killed.

It checks the benchmark's own accounting (every caller counted once, the fault injected, the
figures read back from the stand-in), not the hotline's resilience: that is what the benchmark
measures, and the rows of `make faults` show it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults.__main__ import plans, table
from bench.faults.scenarios import Options, Plan, Scenario, port_free, write_hotline_file
from ivr.hotline.loader import load_hotline


def test_the_benchmark_hotline_file_is_valid(tmp_path: Path) -> None:
    config = load_hotline(write_hotline_file(tmp_path, ["agent_1", "agent_2"], 8))
    assert [a.id for a in config.file.agents] == ["agent_1", "agent_2"]
    assert config.file.hotline.ring_timeout_seconds == 8
    assert config.file.hotline.connect_via == "dial"
    rooms = load_hotline(write_hotline_file(tmp_path, ["agent_1"], 8, "conference"))
    assert rooms.file.hotline.connect_via == "conference"  # `--connect-via conference`


def test_the_rows_follow_the_sizes_and_counts() -> None:
    rows = plans("full", {"redis-kill": 4}, None, ["matching.reserved"])
    by_name = {r.name: r for r in rows}
    assert by_name["redis-kill"].count == 4 and by_name["worker-kill"].count == 50
    assert by_name["point:matching.reserved"].point == "matching.reserved"
    assert [r.name for r in plans("quick", {}, ["worker-kill"], [])] == ["worker-kill"]
    together = [r for r in plans("default", {}, None, ["matching.taken", "callback.pending"]) if r.point]
    assert [(r.name, r.point) for r in together] == [("points", "matching.taken,callback.pending")]


def free_base(ports: range = range(7550, 7590)) -> int:
    """A base port whose row ports (web, stand-in, Redis) are all free: suites may run side by side."""
    for base in ports:
        if all(port_free(port) for port in (base, base + 1, base + 10)):
            return base
    pytest.fail(f"no free ports in {ports}")


def test_a_worker_killed_under_three_live_callers_is_accounted_for() -> None:
    opts = Options(base_port=free_base(), agents=2, callers=3, patience=15.0, talk=3.0, settle=1.0, seed=3)
    row = Scenario(Plan("worker-kill", "worker-kill", 1, window=6.0), opts).run()
    assert row.faults == 1
    assert row.offered == 3
    assert row.served + row.abandoned + row.lost == row.offered
    assert sum(row.lost_why.values()) == row.lost
    assert 0 <= row.served_twice <= row.served
    assert row.held >= 0 and row.dialled_twice >= 0 and row.unavailable >= 0
    printed = table([row], opts.reaper)
    assert printed.splitlines()[2].split()[:3] == ["worker-kill", "1", "3"]
