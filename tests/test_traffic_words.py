"""The simulated day's account of what callers heard: per form of words, pooled over days."""

from __future__ import annotations

from bench.traffic_model import ABANDONED, SERVED, CallerLog, FormTally, Report, wilson_interval, words_table


def _caller(
    index: int, kind: str, announced: tuple[float, float], wait: float, language: str = "zh-CN"
) -> CallerLog:
    log = CallerLog(index, f"CA{index:032d}", 0.0, language, "refund", "none", 600.0, department="payments")
    log.joined, log.answered, log.ended = 0.0, wait, wait + 100
    log.announced, log.announced_kind, log.outcome = announced, kind, SERVED
    return log


def test_each_form_counts_what_it_held_and_which_side_it_missed() -> None:
    callers = [
        _caller(0, "range", (240.0, 420.0), 300.0),  # held
        _caller(1, "range", (240.0, 420.0), 100.0),  # ended before the low end
        _caller(2, "up_to", (0.0, 120.0), 200.0, "en-US"),  # after the high end
        _caller(3, "soon", (0.0, 60.0), 60.0),  # held: the ends are in
    ]
    gone = _caller(4, "soon", (0.0, 60.0), 90.0)
    gone.answered, gone.outcome = None, ABANDONED  # never answered: not counted
    report = Report.build([*callers, gone], [], 20, 3600.0)
    assert report.announce_forms["range"] == FormTally(2, 1, 1, 0, 30.0 + 230.0)
    assert report.announce_forms["up_to"] == FormTally(1, 0, 0, 1, 140.0)
    assert report.announce_forms["soon"] == FormTally(1, 1, 0, 0, 30.0)
    assert report.announce_forms_by_language["up_to", "en-US"].heard == 1
    assert sum(t.heard for t in report.announce_forms.values()) == report.announced_count == 4


def test_the_words_table_pools_days() -> None:
    one = Report.build([_caller(0, "range", (240.0, 420.0), 300.0)], [], 20, 3600.0)
    two = Report.build([_caller(0, "range", (240.0, 420.0), 500.0)], [], 20, 3600.0)
    lines = words_table([one, two]).splitlines()
    between = next(line for line in lines if line.startswith('"between L and H minutes"'))
    # heard 2, held 1 (50 %), none below, one above, 30 and 170 s from the middle: 100 s
    assert between.split()[-10:] == ["2", "1", "50.0", "%", "9-91", "%", "0", "1", "100.0", "s"]
    assert any(line.startswith("all") for line in lines)
    assert any(line.strip().startswith('zh-CN: "between L and H minutes"') for line in lines)


def test_the_interval_is_wilsons() -> None:
    """81 of 100: Wilson's 95 % interval is 72.2-87.5 % (by hand: centre 0.7984, half-width
    0.0763); none heard says nothing; all held stays below 1."""
    low, high = wilson_interval(81, 100)
    assert abs(low - 0.7221) < 5e-4 and abs(high - 0.8747) < 5e-4
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(5, 5)[1] == 1.0 and wilson_interval(5, 5)[0] > 0.5


def test_the_calibration_report_reads_what_each_caller_first_heard() -> None:
    """`bench.calibration` on a 20-minute day: every first words it kept are those the traffic
    report read back from the call, each with a chance the model gave them, and "held" as the
    report counts it."""
    from bench.calibration import FORMS, run_day

    rows, mismatched, _ = run_day(1, 20.0)
    assert rows and mismatched == 0
    for row in rows:
        assert row.kind in FORMS and 0.0 <= row.chance <= 1.0 and 0.0 <= row.pit <= 1.0
        assert row.rest <= row.wait
