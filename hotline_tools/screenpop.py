"""What a console shows of a call: its screen pop, its reference number in groups, times in words."""

from __future__ import annotations

from hotline_tools.agent_api import Json

__all__ = ["duration", "groups", "screen_pop"]


def duration(seconds: int) -> str:
    """A time in words: 45 s, 3 min 5 s, 2 h 10 min."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def groups(ref: str, size: int = 4) -> str:
    """A reference number in groups, as it is read out: 2611 2400 0017."""
    return " ".join(ref[i : i + size] for i in range(0, len(ref), size))


def screen_pop(pop: Json, me: str = "") -> list[str]:
    """The lines of a call's screen pop, as agent `me` sees it (the consulted agent is not the one
    who holds the caller: the hints to take them back or end the consultation are not theirs)."""
    how = {"caller_id": " by caller ID", "second_factor": " by a second factor"}.get(pop["verification"], "")
    lines = [
        f"== call {groups(pop['ref'])} ({pop['status']}) ==",
        f"  account   {pop['account'] or '(none given)'}  "
        + (f"verified{how}" if pop["verified"] else "NOT verified"),
        f"  issue     {pop['issue'] or '-'}  in {pop['department'] or '-'}, priority {pop['priority']}",
        f"  language  {pop['language'] or '-'}",
        f"  waited    {duration(int(pop['waited_seconds']))}",
        f"  calls from this number in the last 7 days: {pop['previous_calls_7d']}",
    ]
    for note in pop["notes"]:
        where = f" -> {note['to']}" if note.get("to") else ""
        kind = f"{note['kind']}: {note['disposition']}" if note.get("disposition") else note["kind"]
        text = f": {note['text']}" if note.get("text") else ""  # a wrap-up may carry no words
        lines.append(f"  note ({kind}{where}, {note['agent']}){text}")
    if pop.get("disposition"):
        lines.append(f"  disposition: {pop['disposition']}")
    consulted = bool(me) and pop.get("consulting") == me
    if pop.get("on_hold") and not consulted:
        lines.append("  ON HOLD: the caller hears music (`unhold` to take them back)")
    if pop.get("supervisor"):
        heard = {
            "listen": "listening, muted",
            "coach": "coaching: only you hear them",
            "barge": "heard by both",
        }
        lines.append(
            f"  SUPERVISOR {pop['supervisor']} on the call ({heard.get(pop['supervisor_mode'], '')})"
        )
    if pop.get("recording"):
        lines.append(f"  recording {pop['recording']}")
    if pop.get("recording_declined"):
        lines.append("  NOT RECORDED: the caller declined the recording")
    if consulted:
        lines.append("  CONSULTED: the agent on this call asks you about it; the caller is on hold")
    elif pop.get("consulting"):
        lines.append(f"  CONSULTING {pop['consulting']} ({pop['consult_state']}): `complete` or `cancel`")
    return lines
