"""Every Redis key the hotline uses, spelled in one place.

| key                     | type   | TTL   | written by                    | read by               |
|-------------------------|--------|-------|-------------------------------|-----------------------|
| hl:call:{sid}           | hash   | 2 d   | webhooks, jobs, agent API     | webhooks, agents      |
| hl:ref:{reference}      | string | 30 d  | call creation (script)        | agents, supervisors   |
| hl:refseq:{yymmdd}      | string | 2 d   | call creation (script)        | call creation         |
| hl:lang:{e164}          | string | 365 d | language choice               | call creation         |
| hl:account:{account_id} | hash   | none  | demo directory loader, freeze | account lookup script |
| hl:queue:{dept}:{locale}| zset   | none  | queue scripts (join/pop/leave)| queue scripts         |
| hl:waiting:{dept}       | hash   | none  | queue scripts: sid -> lang|score | queue scripts      |
| hl:since:{dept}         | zset   | none  | queue scripts: sid -> arrival | statistics (longest)  |
| hl:queueseq:{dept}      | string | none  | join (tie-breaker)            | join                  |
| hl:dstats:{dept}:{day}  | hash   | 8 d   | queue, connections, transfers | supervisors           |
| hl:agent:{id}           | hash   | none  | agent scripts, admin, config  | matcher, API          |
| hl:agents               | set    | none  | admin, config                 | API, sweeper          |
| hl:ready:{dept}         | zset   | none  | agent state changes: idle-since| matcher              |
| hl:staffed:{dept}       | zset   | none  | agent state changes           | wait estimate         |
| hl:heartbeats           | zset   | none  | agent API: last beat          | sweeper               |
| hl:agentcalls:{day}     | hash   | 8 d   | agent answers: id -> count    | fewest-calls matching |
| hl:stats:{yymmdd}       | hash   | 8 d   | call creation, hand-off, end  | supervisors           |
| hl:callsfrom:{e164}     | zset   | 8 d   | call creation: sid -> ms      | agent screen pop      |
| hl:token:{sha256}       | string | none  | admin CLI: 'role:subject'     | API authentication    |
| hl:authfail:{address}   | string | window| API auth: wrong tokens counted| API auth (429 lockout)|
| hl:out:{o}:{kind}:...   | string | window| outbound limits script        | outbound limits script|
| hl:refused:{yymmdd}     | hash   | 8 d   | outbound limits: kind:limit   | supervisors           |
| hl:profile:{dept}       | hash   | none  | profile rollup job: 'how:name'| wait estimate, callbacks |
| hl:profilemark:{dept}   | hash   | none  | profile rollup job: last seen | profile rollup job    |
| hl:staffabove:{dept}    | hash   | none  | agent states: id -> depts first| wait estimate        |
| hl:stafflangs:{dept}    | hash   | none  | agent states: id -> languages | wait estimate         |
| hl:recent:{dept}:{day}  | hash   | 2 d   | join: decayed arrivals, last 128 times by class | wait estimate |
| hl:survey:{sid}         | hash   | 8 d   | survey webhooks (score once)  | supervisors           |
| hl:surveys:{yymmdd}     | hash   | 8 d   | survey: 'agent|dept:x:n/sum'  | supervisors           |
| hl:followups:{yymmdd}   | hash   | 8 d   | SMS job, voicemail: counters  | supervisors           |
| hl:ticket:{ref}         | hash   | 30 d  | voicemail + transcription     | supervisors           |
| hl:tickets:{dept}       | zset   | none  | voicemail: ref -> ms (30 d kept) | supervisors        |
| hl:cbclaim:{sid}:{n}    | string | 2 d   | callback job: 'pending:ts', then CallSid | callback job |
| hl:lastplace:{dept}:{e164} | hash | keep_place_min. | status callback: place | hand-off |
| hl:holds                | zset   | none  | agent holds: id -> lease end (s) | reaper             |
| hl:held:{dept}          | zset   | none  | pop script: sid -> lease end (s) | reaper, queue scripts |
| hl:turns:{dept}         | zset   | none  | join, hold turn: sid -> last turn (s) | reaper       |
| hl:nudge:{dept}         | string | 15 s  | reaper: a match asked for the dept | reaper             |
| hl:oncallchecks         | zset   | none  | reaper: agent on a call -> Twilio last asked (s) | reaper |
| hl:reaper               | string | lease | the worker holding the reaper's lease | workers, /healthz |
| hl:workers              | zset   | none  | each worker process: id -> last beat (s) | /healthz      |
| hl:seeded               | string | none  | web start, upkeep: when the files were loaded | upkeep |
| hl:events               | stream | days  | call status, close and agent state scripts | live push, reports |
| hl:recordings           | zset   | none  | recording callback: RE sid -> completed (s) | retention job |
| hl:toerase:number:{e164} | set | none | erasure: RE sids Twilio refused (also account:{id}) | next erasure |

rq keeps its own keys under `rq:`; the hotline reads one of them through rq's own template
(ivr/rq_scheduler.py): `rq:scheduler-lock:hotline`, the name of the scheduler holding the
queue's lock, whose TTL tells how long ago that scheduler last refreshed it.

Redis Cluster is not supported; one primary holds every key (Redis Sentinel is the failover
path: see ivr/redis_clients.py). The braces in `{dept}` and `{o}` are hash tags, but they do
not make the hotline cluster-safe: the call-open script and a webhook's MULTI/EXEC touch keys of
several slots (a call record, the day's counters, a department's queue), and rq, which shares
this Redis, has no Cluster support. They stay because renaming keys of a running hotline loses
its data.
"""

from __future__ import annotations

PREFIX = "hl"

CALL_TTL_SECONDS = 2 * 24 * 3600
REF_TTL_SECONDS = 30 * 24 * 3600
REFSEQ_TTL_SECONDS = 2 * 24 * 3600
LANG_TTL_SECONDS = 365 * 24 * 3600
STATS_TTL_SECONDS = 8 * 24 * 3600
CALLS_FROM_TTL_SECONDS = 8 * 24 * 3600
# The screen pop counts the 7 days before a call whose record lives 2 days: older entries are dead.
CALLS_FROM_KEEP_SECONDS = 9 * 24 * 3600
TICKET_TTL_SECONDS = 30 * 24 * 3600


def call(call_sid: str) -> str:
    """The call record: what the menu learned about one call."""
    return f"{PREFIX}:call:{call_sid}"


def reference(ref: str) -> str:
    """Reference number -> CallSid, so an agent can find a call from the number a caller quotes."""
    return f"{PREFIX}:ref:{ref}"


def reference_sequence(day: str) -> str:
    """Per-day counter behind reference numbers (day as yymmdd in the hotline's time zone)."""
    return f"{PREFIX}:refseq:{day}"


def language(e164: str) -> str:
    """The language a caller chose last time, keyed by their normalised number."""
    return f"{PREFIX}:lang:{e164}"


def account(account_id: str) -> str:
    """One account of the demo directory (name, registered mobile, status)."""
    return f"{PREFIX}:account:{account_id}"


def queue(department: str, locale: str) -> str:
    """One language lane of a department's queue, scored by priority class then arrival."""
    return f"{PREFIX}:queue:{{{department}}}:{locale}"


def queue_waiting(department: str) -> str:
    """Every caller waiting in a department -> 'locale|score' (which lane, and their place)."""
    return f"{PREFIX}:waiting:{{{department}}}"


def queue_since(department: str) -> str:
    """Every caller waiting in a department, scored by arrival (ms): the longest wait in O(log n)."""
    return f"{PREFIX}:since:{{{department}}}"


def department_stats(department: str, day: str) -> str:
    """A department's counters of one day: offered, answered, abandoned, waits, handle times."""
    return f"{PREFIX}:dstats:{{{department}}}:{day}"


def queue_sequence(department: str) -> str:
    """Monotonic arrival counter of a department queue (same hash tag as the queue)."""
    return f"{PREFIX}:queueseq:{{{department}}}"


def daily_stats(day: str) -> str:
    """Counters of one day: calls offered, handed off per department, abandoned per menu step."""
    return f"{PREFIX}:stats:{day}"


def agent(agent_id: str) -> str:
    """An agent: definition (name, departments, languages, reach) and live state."""
    return f"{PREFIX}:agent:{agent_id}"


def agent_ids() -> str:
    """Every agent id."""
    return f"{PREFIX}:agents"


def ready_agents(department: str) -> str:
    """Ready agents of a department by the time they became idle (longest idle first)."""
    return f"{PREFIX}:ready:{{{department}}}"


def agent_heartbeats() -> str:
    """Agents by the time their console last said it is alive."""
    return f"{PREFIX}:heartbeats"


def agent_calls(day: str) -> str:
    """Calls each agent answered on a day (for the fewest-calls strategy and statistics)."""
    return f"{PREFIX}:agentcalls:{day}"


def staffed_agents(department: str) -> str:
    """Agents serving a department now (ready, ringing, talking, wrapping up)."""
    return f"{PREFIX}:staffed:{{{department}}}"


def calls_from(e164: str) -> str:
    """Calls from one number by creation time (ms): "calls from this number in the last 7 days"."""
    return f"{PREFIX}:callsfrom:{e164}"


def api_token(digest: str) -> str:
    """An API bearer token, by the sha256 of the token (the token itself is never stored)."""
    return f"{PREFIX}:token:{digest}"


def auth_failures(address: str) -> str:
    """Wrong bearer tokens from one client address in the current lockout window (a counter)."""
    return f"{PREFIX}:authfail:{address}"


def outbound_window(kind: str, limit: str, slot: str, e164: str | None) -> str:
    """Actions of `kind` counted in one window of one limit, for one number or (None) for all."""
    return f"{PREFIX}:out:{{o}}:{kind}:{limit}:{slot}:{e164 or 'all'}"


def outbound_refusals(day: str) -> str:
    """Outbound actions refused by a limit on one day, by 'kind:limit'."""
    return f"{PREFIX}:refused:{day}"


def profile(department: str) -> str:
    """A department's hour-of-week profile: '{hour of week}:{counter}' -> total (see waits/profile.py)."""
    return f"{PREFIX}:profile:{{{department}}}"


def profile_mark(department: str) -> str:
    """What the profile rollup last saw of the department's daily counters, and when."""
    return f"{PREFIX}:profilemark:{{{department}}}"


def recent_arrivals(department: str, day: str) -> str:
    """Per class of a department's callers, its arrivals lately: a count per window, decayed."""
    return f"{PREFIX}:recent:{{{department}}}:{day}"


def staffed_above(department: str) -> str:
    """Staffed agents of a department -> the departments they take first ('' if none), comma-joined."""
    return f"{PREFIX}:staffabove:{{{department}}}"


def staffed_busy(department: str) -> str:
    """Staffed agents of a department on a call or in wrap-up -> 'call|{answered ms}|{the call's
    department}' or 'wrap|{wrap-up end ms}|' (ms since the queue epoch): when each can next take
    a caller."""
    return f"{PREFIX}:staffbusy:{{{department}}}"


def staffed_languages(department: str) -> str:
    """Staffed agents of a department -> the languages they speak, comma-joined."""
    return f"{PREFIX}:stafflangs:{{{department}}}"


def survey(call_sid: str) -> str:
    """One call's survey answer: agent, department, score, the comment's recording."""
    return f"{PREFIX}:survey:{call_sid}"


def survey_stats(day: str) -> str:
    """Survey totals of one day: 'agent:{id}:n', 'agent:{id}:sum', 'dept:{d}:n', ... 'comments'."""
    return f"{PREFIX}:surveys:{day}"


def followups(day: str) -> str:
    """What happened after calls on one day: messages sent or failed, voicemails per department."""
    return f"{PREFIX}:followups:{day}"


def ticket(ref: str) -> str:
    """A voicemail ticket, under the reference number of the call that left it."""
    return f"{PREFIX}:ticket:{ref}"


def tickets(department: str) -> str:
    """A department's voicemail tickets by creation time (ms), newest last."""
    return f"{PREFIX}:tickets:{{{department}}}"


def callback_claim(call_sid: str, attempt: int) -> str:
    """Idempotency key of one callback attempt: set before dialling, then the outbound CallSid."""
    return f"{PREFIX}:cbclaim:{call_sid}:{attempt}"


def last_place(department: str, e164: str) -> str:
    """The place of a caller who hung up while waiting (account, score), for when they call again."""
    return f"{PREFIX}:lastplace:{{{department}}}:{e164}"


def agent_holds() -> str:
    """Agents held by the hotline (reserved, ringing) by the end of their lease (Unix seconds)."""
    return f"{PREFIX}:holds"


def queue_held(department: str) -> str:
    """Callers taken from a department's queue for an agent, not yet connecting, by lease end (s)."""
    return f"{PREFIX}:held:{{{department}}}"


def hold_turns(department: str) -> str:
    """Callers on hold in a department by the time (Unix seconds) of their last hold turn."""
    return f"{PREFIX}:turns:{{{department}}}"


def match_nudge(department: str) -> str:
    """Set while the reaper's last request to match a department is recent (one per period)."""
    return f"{PREFIX}:nudge:{{{department}}}"


def on_call_checks() -> str:
    """Agents on a call -> when (Unix s, the hotline's clock) Twilio was last asked about their call."""
    return f"{PREFIX}:oncallchecks"


def reaper_lease() -> str:
    """Which worker process runs the reaper now (its id); expires unless renewed."""
    return f"{PREFIX}:reaper"


def worker_beats() -> str:
    """Worker processes by the time (Unix seconds) they last said they are alive."""
    return f"{PREFIX}:workers"


def seeded() -> str:
    """When the hotline file's agents and the demo accounts were last loaded (Unix seconds).

    Gone means Redis lost its data: the workers load the files again (ivr/seeding.py).
    """
    return f"{PREFIX}:seeded"


def events() -> str:
    """The call center's event log (a stream): joins, offers, answers, ends, agent states.

    Appended inside the scripts that make each change; trimmed to `hotline.event_log_days` by
    the workers' upkeep (ivr/callcenter/events.py).
    """
    return f"{PREFIX}:events"


def recordings_kept() -> str:
    """Completed call recordings by when they completed (s): what the retention job deletes."""
    return f"{PREFIX}:recordings"


def recordings_to_erase(number: str = "", account: str = "") -> str:
    """Recordings an erasure of a number (or an account) could not delete at Twilio: the call
    records naming them are gone, so the next erasure of the same number (or account) finds them
    here. Removed as they are deleted; no TTL, the erasure was promised."""
    return f"{PREFIX}:toerase:number:{number}" if number else f"{PREFIX}:toerase:account:{account}"
