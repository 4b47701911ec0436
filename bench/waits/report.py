"""The benchmark's table (terminal and Markdown) and plot."""

from __future__ import annotations

from pathlib import Path

from bench.waits.predictors import PREDICTORS, PRODUCT
from bench.waits.scoring import COVERAGE_RANGE, LIVE_TARGET, Summary


def rows(summaries: list[Summary]) -> list[list[str]]:
    """Header and rows: one line per predictor or figure, one column per scenario."""
    head = ["scenario"] + [f"{s.number}. {s.title}" for s in summaries]
    out = [head]
    for p in PREDICTORS:
        out.append([p] + [s.ratios[p].text() for s in summaries])
    out.append([f"{PRODUCT}, vs the real waits"] + [s.realized.text() for s in summaries])
    out.append(["best possible RMSE (s)"] + [s.best_rmse.text(0) for s in summaries])
    out.append(["mean wait left (s)"] + [s.mean_wait.text(0) for s in summaries])
    out.append(["all agents busy"] + [s.p_wait.text(3) for s in summaries])
    out.append(["abandoned"] + [s.abandonment.text(3) for s in summaries])
    out.append(["80% range covers"] + [s.coverage.text(3) for s in summaries])
    out.append(["within ±20% of what was said"] + [s.within20.text(3) for s in summaries])
    out.append(["within ±20% of the estimate"] + [s.within20_mean.text(3) for s in summaries])
    out.append(["live path: 80% range covers"] + [s.coverage_live.text(3) for s in summaries])
    out.append(["live path: the words as said hold"] + [s.said_live.text(3) for s in summaries])
    out.append(['live path: "less than a minute" true'] + [s.soon_live.text(3) for s in summaries])
    out.append(["announcements scored"] + [f"{s.announcements}" for s in summaries])
    out.append(["target (product ratio)"] + [_target(s) for s in summaries])
    out.append(["result"] + ["PASS" if s.passed else "FAIL" for s in summaries])
    return out


def _target(s: Summary) -> str:
    extra = ", ≤ ½ HOL" if s.half_of_head_of_line else ""
    low, high = COVERAGE_RANGE
    return f"≤ {s.target:.2f}{extra}; {low:.0%}–{high:.0%}; live ≤ {LIVE_TARGET:.2f}, ≤ published"


def text_table(summaries: list[Summary]) -> str:
    """A fixed-width table for the terminal."""
    table = rows(summaries)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    widths = [widths[0]] + [min(max(w, 10), 16) for w in widths[1:]]
    lines = []
    for r in table:
        cells = [r[0].ljust(widths[0])] + [c[: widths[i]].rjust(widths[i]) for i, c in enumerate(r) if i]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def markdown_table(summaries: list[Summary]) -> str:
    """The same table in Markdown."""
    table = rows(summaries)
    lines = ["| " + " | ".join(table[0]) + " |", "|---" + "|---:" * (len(table[0]) - 1) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table[1:]]
    return "\n".join(lines)


def failures(summaries: list[Summary]) -> list[str]:
    """One line per scenario that missed a target."""
    return [f"scenario {s.number} ({s.title}): {'; '.join(s.failures)}" for s in summaries if s.failures]


def plot(summaries: list[Summary], path: Path) -> None:
    """Ratios to the best possible per scenario and predictor (log scale), and the range's coverage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, cov) = plt.subplots(
        2, 1, figsize=(12, 8), gridspec_kw={"height_ratios": [3, 1]}, constrained_layout=True
    )
    width = 0.8 / len(PREDICTORS)
    xs = range(len(summaries))
    for k, p in enumerate(PREDICTORS):
        means = [s.ratios[p].mean for s in summaries]
        halves = [0 if s.ratios[p].half != s.ratios[p].half else s.ratios[p].half for s in summaries]
        ax.bar([x + (k - len(PREDICTORS) / 2 + 0.5) * width for x in xs], means, width, yerr=halves, label=p)
    for x, s in zip(xs, summaries, strict=True):
        ax.hlines(s.target, x - 0.4, x + 0.4, colors="black", linestyles="dashed")
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_ylabel("mean squared error / best possible")
    ax.set_xticks(list(xs), [f"{s.number}. {s.title}" for s in summaries], fontsize=8)
    ax.legend(fontsize=8, ncol=4)
    ax.set_title("Wait predictions against the conditional variance of the wait (dashed: target)")
    cov.bar(list(xs), [s.coverage.mean for s in summaries], yerr=[s.coverage.half for s in summaries])
    cov.axhspan(*COVERAGE_RANGE, color="green", alpha=0.15)
    cov.set_ylim(0.5, 1.0)
    cov.set_ylabel("80% range covers")
    cov.set_xticks(list(xs), [str(s.number) for s in summaries])
    fig.savefig(path, dpi=110)
    plt.close(fig)


def document(
    summaries: list[Summary],
    command: str,
    replications: int,
    elapsed: float,
    workers: int,
    check: str | None,
    missed: list[str],
) -> str:
    """docs/waits.md: how the estimate was measured, the table, the plot and the verdict."""
    verdict = "\n".join(f"- **FAIL** {line}" for line in missed) or "- Every target is met."
    return f"""# Wait estimates, measured

What the hold loop tells a waiting caller comes from one function, `ivr.waits.estimate.estimate`.
This page is written by `{command} --docs` (`make bench ARGS=--docs`): a discrete-event
simulation of the hotline (SimPy) that calls that function, through its real interface, at
every moment a caller hears a wait (on joining the queue and at every minute's turn of the hold
loop), with the `QueueState` the hotline itself builds from its live state:

- `agents`, `ready`, `ahead`: agents logged in, agents free, callers who will be served first
  (higher classes, then the same class arrived earlier);
- `mean_handle_seconds`: the mean of the handle times the hotline has seen (its profile starts
  from 2,000 calls of past weeks, then learns from each finished call); where departments share
  the agents, each department's mean weighed by its arrival rate (the agents finish all their
  calls);
- `mean_patience_seconds`: time spent waiting by all callers divided by the callers who hung up
  (the estimate of exponential patience from abandonment; 500 past abandons to start from);
- `overtaking_per_second`: the arrival rate of higher classes at that instant;
- `staffing_changes`: the planned staffing still to come; agents who stay past the end of
  their shift to finish a call count as a change now to the planned number;
- `waited_seconds`: the caller's time on hold.

That is the idealised run: the simulation hands over what it knows. **Through the live path**
the same estimate is fed the way the hotline feeds it: the simulation keeps, per department,
the figures the hotline's Redis holds (agents staffed and ready, which departments each agent
takes first, callers waiting and how long the longest have waited, the day's counters of
offered, answered, handled and abandoned calls and of time waited, a profile summary of past
weeks with the handle time and patience of the idealised run's priors, the staffing plan in the
hotline file's schema) and `ivr.waits.live` turns them into the `QueueState` with its own code,
as it does on every turn of the hold loop: handle time from today's calls (those still under
way counted as censored, at their expected age) and the profile, the handle times' spread for
the calls under way when the wait starts, patience as a hang-up rate by time waited (spans of
a wait, each its hang-ups over the time waited in it by callers whose wait ended and by those
still waiting; the callers ahead each at what they have waited), each department its own
queue (callers of several classes of one department in its one queue, overtaken by the higher
classes at their recent rate: read from the exact times of each class's last 128 arrivals,
kept as they join, as the rate since the likeliest change of rate among them, with the day's
average as prior), an agent who takes other departments first counted by what their demand
(their recent arrivals, counted as they join and decayed over 1, 2, 4 and 8 minutes, with the
day's average as the longest window, the longest window the shorter ones agree with believed,
times the share they answered) leaves of them, with
their waiting callers ahead, and one who takes them after this one by how
soon their calls free the agent (in this department's handle times). Its targets: at most 1.15×
the best possible in every scenario, and never worse than the best of the other predictors. Its
range's coverage, and how often the words it would have said ("between L and H minutes", "up to
N", "about N", "less than a minute") held the wait, are shown beneath.

Each announcement is scored against the wait the caller then really had; a caller who hung up
stays in the queue as an invisible ghost, so the wait they would have had is known. A
predictor's score is its mean squared error divided by the best any prediction can do, the
conditional variance of the wait given the state: in the Markov scenarios (1, 2, 3, 7, 8) the
closed form Σ 1/(sμ + iθ)², elsewhere re-simulated 60 times from the same state (busy agents'
elapsed handle times each in its department's law, callers ahead each with theirs, the staffing
plan, higher classes still to arrive, at their rate of that instant as if it went on: when a
surge will end is in no state) for 5%
of the announcements. Because the score is an expectation, it is computed as
E[(p − W)² | state] = (p − E[W | state])² + Var(W | state), which has the same mean as the
squared error against the one real wait but much less noise. The product's ratio against the
real waits is shown too ("vs the real waits"): it is dominated by a few long excursions of the
queue in each replication, so it is far noisier, and a ratio of two such sums per replication
leans low where those excursions are longest (scenarios 1 and 4, at 95% with nobody leaving).

The predictors: the product's estimate and its spoken form (a rounded range, taken at its
middle); the head-of-line caller's wait so far; the wait of the last caller to reach an agent;
the mean of the last ten waits; the mean wait so far of everyone now waiting (Twilio's
AvgQueueTime); Asterisk's announced hold time (new = (3·old + last)/4, said as that + 30 s
minus the time already waited); and Erlang's all-busy queue-length formula (n + 1)·h/s, which
ignores abandonment. History predictors announce what is left of their whole-wait figure.
"Within ±20% of what was said": a spoken range "between L and H minutes" holds a wait from
0.8·L to 1.2·H, "up to H minutes" up to 1.2·H, "less than a minute" up to 72 s; "of the
estimate": within ±20% of the product's mean.

## Scenarios

1. M/M/50 at 95% load, nobody abandons; 2. M/M/50+M at 110% (mean patience 10 min);
3. a 12-hour day with a slow peak to 115% and a 30-minute burst to 140%, abandonment on;
4. as 1 with lognormal handle times (coefficient of variation 1); 5. a peak at 100% of 50 agents
during which the planned staffing drops to 35 (agents leave after their current call);
6. two departments sharing 50 agents at 100%, security (20% of the work, 7-minute calls) before
general (3-minute calls);
7. 10 agents at 95% with abandonment; 8. 50 agents at 90% when arrivals triple for 20 minutes,
staff fixed; 9. demand rising from 30 to 48 Erlangs and back, staffed from 34 to 50 and back in
half-hour steps each half an hour late (agents who log in take waiting callers at once);
10. as 2 with long-tailed patience (40% of callers with a mean of one minute, 60% with 16
minutes: the same mean, a falling hazard; re-simulated caller by caller, each from what is left
of their patience after what they have waited); 11. one department's queue with two classes on
50 agents: standard callers at 80%, priority callers (served first) at 10%, five times that for
half an hour (two-minute edges), abandonment on. Handle times average 5 minutes but in 6. Flat
scenarios start from the queue's stationary law; the first hour (half an hour in 3, 90 minutes
in 8 and 11) is not scored.

## Results

{replications} replications per scenario, 95% confidence intervals over replications, {workers}
processes, {elapsed:.0f} s.

{markdown_table(summaries)}

{check or ""}

![ratios to the best possible, and the coverage of the 80% range](waits.png)

{verdict}

## Also measured

- What callers hear through the real webhooks, per form of words and by the caller's language,
  pooled over simulated hours: `python -m bench.traffic --minutes 60 --seeds 1 2 3 4 5 6 7 8 9
  10` (and 11 to 20, held out; the figures are in [simulated-day.md](simulated-day.md)).
  `python -m bench.live_state --seeds 1 2 3` sets each input of the estimate there against what
  then happened.
- The CPU a hold turn spends on its wait, next to a floor measured in the same run:
  `python -m bench.waits --cost`.
"""
