"""The matching jobs: give waiting callers to ready agents; check a call Twilio would not move."""

from __future__ import annotations

from ivr.jobs.context import services


def match_department(department: str) -> int:
    """Give a department's waiting callers to ready agents; how many were matched."""
    return len(services().matcher.for_department(department))


def match_agent(agent_id: str) -> bool:
    """Give a newly ready agent the best caller they can serve."""
    return services().matcher.for_agent(agent_id) is not None


def reconcile_call(call_sid: str) -> str:
    """Twilio refused to redirect a call: end it here if it is over (its hang-up notice was lost)."""
    hl = services()
    return hl.holds.reconcile(call_sid, hl.clock.now())
