-- wrk script of the web benchmark: rotate pre-signed requests, check every answer.
-- Arguments (after --): the requests file, and a text every good answer contains.
-- The file has one request a line: method, path, headers (name=value joined by \1), body, by \t.
-- Each thread starts at its own offset, so two threads never send the same caller together.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function split(text, sep)
  local out = {}
  for part in (text .. sep):gmatch("(.-)" .. sep) do table.insert(out, part) end
  return out
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  marker = args[2]
  requests = {}
  for line in file:lines() do
    local f = split(line, "\t")
    local headers = {}
    if f[3] ~= "" then
      for _, pair in ipairs(split(f[3], "\1")) do
        local name, value = pair:match("^([^=]+)=(.*)$")
        headers[name] = value
      end
    end
    local body = f[4] ~= "" and f[4] or nil
    table.insert(requests, wrk.format(f[1], f[2], headers, body))
  end
  file:close()
  index = (id * 7919) % #requests
  bad = 0
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  if status ~= 200 or not body or not body:find(marker, 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d bad=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    wrong, e.connect + e.read + e.write + e.timeout + e.status))
end
