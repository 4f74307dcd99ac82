-- Shared by render.lua and save.lua: thread ids, response checks, a JSON summary line.
--
-- Every response is checked: the status must be 2xx and, when a marker is given, the
-- body must contain it (a real widget page or form). Anything else counts as "bad";
-- run.py refuses a run with bad responses or socket errors.

local M = {}
local threads = {}

function M.setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function M.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then table.insert(lines, line) end
  end
  return lines
end

function M.check(marker)
  return function(status, headers, body)
    if status < 200 or status > 299 or (marker ~= "" and not string.find(body, marker, 1, true)) then
      bad = bad + 1
      if status < 200 or status > 299 then
        statuses[status] = (statuses[status] or 0) + 1
      end
    else
      ok = ok + 1
    end
  end
end

function M.done(summary, latency, requests)
  local bad_total, ok_total, by_status = 0, 0, {}
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    ok_total = ok_total + t:get("ok")
    local s = t:get("statuses_str")
    if s and #s > 0 then table.insert(by_status, s) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"ok":%d,"bad":%d,' ..
    '"bad_statuses":"%s","connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, ok_total, bad_total,
    table.concat(by_status, " "), e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

-- Thread-side bookkeeping, exported to done() through thread:get.
function M.init_counters()
  bad, ok, statuses = 0, 0, {}
end

function M.export_statuses()
  local parts = {}
  for code, n in pairs(statuses) do table.insert(parts, code .. "x" .. n) end
  statuses_str = table.concat(parts, ",")
end

return M
