"""The one script that reads a department's live state: every input of its `QueueState`, none written.

`queue_state.Reads` binds and parses it; the hold turn (`hold_turn`) runs it as a Lua function
inside its own script.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ivr.scripts import Script

# Everything a department's QueueState is made from, in one call, in `Reads.queue`'s order: 8 + 5
# per other department reads, none written, each O(1) (ZCARD, HMGET of named fields, HGET; the
# recent arrivals: one HMGET per class, at most MAX_RANK + 1) or O(log n + 64) (the longest
# waiters), but HGETALL of the staffed agents' departments taken first and, of each other
# department, HVALS of the same (one field per staffed agent, counted in the script), and last
# the calls of the staffed agents (ZRANGE and HMGET of at most BUSY_READ). One reply,
# JSON (a missing field or summary: false); sixteen replies parsed one by one cost a hold turn
# more than the reads cost Redis.
READS_LUA = """
local out = {}
out[1] = redis.call('ZCARD', KEYS[1])
local flat, above = redis.call('HGETALL', KEYS[2]), {}
for i = 1, #flat, 2 do above[flat[i]] = flat[i + 1] end
out[2] = above
out[3] = redis.call('ZCARD', KEYS[3])
out[4] = redis.call('HMGET', KEYS[4], unpack(ARGV, 11, 10 + tonumber(ARGV[2])))
out[5] = redis.call('HGET', KEYS[5], 'summary')
out[6] = redis.call('ZCARD', KEYS[6])
local scored, longest = redis.call('ZRANGE', KEYS[6], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES'), {}
for i = 2, #scored, 2 do longest[#longest + 1] = tonumber(scored[i]) end  -- arrivals (ms) only
out[7] = longest
-- Recent arrivals by class: a count per window (`windows`, seconds), kept by the join script as
-- callers join, decayed here to now and not written (arrivals.recent_counts), and the class's
-- last arrivals (ms, at most arrivals.ARRIVALS_KEPT: one string, parsed by the caller) if `times`:
-- per class, {counts, times or false}.
local now, taus = tonumber(ARGV[4]), {}
for tau in string.gmatch(ARGV[5], '[^,]+') do taus[#taus + 1] = tonumber(tau) end
local function recent(key, classes, times)
  local all = {}
  for r = 0, classes - 1 do
    local fields = {'last:' .. r}
    for i = 1, #taus do fields[#fields + 1] = 'n' .. i .. ':' .. r end
    if times then fields[#fields + 1] = 'times:' .. r end
    local s = redis.call('HMGET', key, unpack(fields))
    local at, counts = tonumber(s[1]), {}
    for i, tau in ipairs(taus) do
      counts[i] = 0
      if at then counts[i] = (tonumber(s[i + 1]) or 0) * math.exp(-math.max(now - at, 0) / 1000 / tau) end
    end
    all[#all + 1] = {counts, times and s[#taus + 2]}
  end
  return all
end
out[8] = recent(KEYS[7], tonumber(ARGV[6]), true)  -- the higher classes, who overtake
-- Each other department: its callers waiting, its counters, its staffed agents, how many of
-- those take this department before it (their calls free agents who then take ours), and its
-- recent arrivals by class (what it asks of shared agents lately: by the decayed counts only, as
-- `queue_state.Reads._shared` reads them).
local other_fields = {unpack(ARGV, 11 + tonumber(ARGV[2]))}
local ours = ',' .. ARGV[3] .. ','
-- The caller's language (`sid`, '' for none: every agent counts): the staffed agents who speak
-- it (KEYS[8], kept with the staffed set), the departments they take first, the ready ones, and
-- the caller's place among the callers waiting in the lanes those agents serve (the department's
-- lanes: `locales`, in order, after KEYS[10], the busy hash). An agent who cannot take the
-- caller does not shorten their wait, nor does a caller in a lane the caller's agents never
-- serve lengthen it; one in a lane they share with other agents counts by their share.
-- Unknown (agents staffed before languages were kept, a caller not waiting): false, and every
-- agent counts. One entry per staffed or ready agent: they are few.
local locales = {}
for loc in string.gmatch(ARGV[9], '[^,]+') do locales[#locales + 1] = loc end
local first_other = 11 + #locales
local lang = false
local entry = ARGV[8] ~= '' and redis.call('HGET', KEYS[9], ARGV[8])
if entry then
  local locale, score = string.match(entry, '^(.-)|(.*)$')
  -- speakers[loc]: staffed agents who speak loc; served[loc]: those of them who speak the caller's.
  local flat, speaks, speakers, served, staffed = redis.call('HGETALL', KEYS[8]), {}, {}, {}, 0
  for i = 1, #flat, 2 do
    local ours = string.find(',' .. flat[i + 1] .. ',', ',' .. locale .. ',', 1, true)
    if ours then speaks[flat[i]], staffed = flat[i + 1], staffed + 1 end
    for loc in string.gmatch(flat[i + 1], '[^,]+') do
      speakers[loc] = (speakers[loc] or 0) + 1
      if ours then served[loc] = (served[loc] or 0) + 1 end
    end
  end
  if #flat / 2 >= out[1] then
    -- ready_speak[loc]: a ready agent who speaks the caller's language speaks loc too.
    local their_above, ready, ready_speak = {}, 0, {}
    for id, first in pairs(above) do
      if speaks[id] then their_above[id] = first end
    end
    for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
      if speaks[id] then
        ready = ready + 1
        for loc in string.gmatch(speaks[id], '[^,]+') do ready_speak[loc] = true end
      end
    end
    -- A caller ahead in another lane is taken by whichever of its agents frees first: by the
    -- caller's agents in the share of that lane's agents they are. competing: the callers ahead
    -- in the lanes a ready agent of the caller's serves, whole: any of them takes that agent
    -- before the caller does.
    local place, competing = 1, 0
    for i, loc in ipairs(locales) do
      if served[loc] then
        local ahead = redis.call('ZCOUNT', KEYS[10 + i], '-inf', '(' .. score)
        place = place + ahead * (loc == locale and 1 or served[loc] / speakers[loc])
        if ready_speak[loc] then competing = competing + ahead end
      end
    end
    lang = {staffed, their_above, ready, place, competing}
  end
end
out[9] = lang
for i = first_other, #KEYS, 5 do
  out[#out + 1] = redis.call('ZCARD', KEYS[i])
  out[#out + 1] = redis.call('HMGET', KEYS[i + 1], unpack(other_fields))
  out[#out + 1] = redis.call('ZCARD', KEYS[i + 2])
  local theirs, after = redis.call('HVALS', KEYS[i + 3]), 0
  for _, first in ipairs(theirs) do
    if string.find(',' .. first .. ',', ours, 1, true) then after = after + 1 end
  end
  out[#out + 1] = after
  out[#out + 1] = recent(KEYS[i + 4], tonumber(ARGV[7]), false)
end
-- Last: when each staffed agent (the first BUSY_READ) can next take a caller, {ids, entries}
-- (KEYS[10], kept with the staffed set: on a call since, or in wrap-up until; false: ready, or
-- not kept).
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[10]) - 1)
out[#out + 1] = {ids, #ids > 0 and redis.call('HMGET', KEYS[10], unpack(ids)) or {}}
return cjson.encode(out)
"""
READS = Script(
    READS_LUA,
    # lanes_others: the department's lanes (one per locale, in `locales`' order), then 5 keys per
    # other department.
    keys=(
        "staffed", "above", "ready", "stats", "profile", "since", "recent", "langs", "waiting", "busy",
        "lanes_others*",
    ),
    args=(
        "censored", "count", "department", "now_ms", "windows", "rank", "classes", "sid", "locales",
        "busy_read", "fields*",
    ),
)  # fmt: skip


class Recent(NamedTuple):
    """One class's recent arrivals as the read script gives them: the decayed count of each
    window (`arrivals.RECENT_WINDOWS_SECONDS`) and the last arrivals' times (`arrivals.kept_arrivals`;
    '' before any)."""

    counts: tuple[float, ...]
    times: str = ""


def counts_of(reply: Any) -> list[Recent]:
    """Recent arrivals by class from the read script's JSON (an empty Lua table comes as {}, a
    missing field as false)."""
    out = []
    for entry in reply or []:
        counts, times = (list(entry) + [None, None])[:2] if isinstance(entry, list) else (None, None)
        out.append(Recent(tuple(float(n) for n in counts or []), times if isinstance(times, str) else ""))
    return out


def lua_function(name: str, lua: str) -> str:
    """A script's body as a local Lua function of its own KEYS and ARGV (a `#!lua` line dropped)."""
    body = lua.split("\n", 1)[1] if lua.startswith("#!") else lua
    return f"local function {name}(KEYS, ARGV)\n{body}\nend\n"
