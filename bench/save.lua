-- POST a valid htmx save of the preference form; every request is a real, new save.
--
-- wrk -s bench/save.lua URL -- PATH TOKEN_FILE NTHREADS MARKER NOTICE LANG FORM_A FORM_B TAG
--
-- TOKEN_FILE has one "token version" line per subscriber, each seeded with choices A at
-- that (odd) version. Thread k of NTHREADS owns the lines i with i % NTHREADS == k and
-- walks them round robin. The version sent is the one the server last answered for that
-- token (the re-rendered form carries it), else the seeded one; the choices sent are B
-- when that version is odd and A when it is even, so each save changes something and is
-- made from the version the subscriber really has. A subscriber comes back only after
-- its thread has sent (pool / NTHREADS) requests, far more than the (connections /
-- NTHREADS) in flight, so its previous answer has been read. A save that is not a fresh
-- "saved" (409 conflict, "unchanged"...) fails the MARKER check and is counted as bad.
-- "submission" is unique per request (TAG-thread-counter): never a "repeat".
-- The same script drives the baseline (/bench/raw-commit ignores the body, MARKER "").

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup

function init(args)
  path, token_file = args[1], args[2]
  local nthreads = tonumber(args[3])
  marker, notice, lang, form_a, form_b, tag = args[4], args[5], args[6], args[7], args[8], args[9]
  tokens, versions = {}, {}
  for i, line in ipairs(common.read_lines(token_file)) do
    if (i - 1) % nthreads == tid then
      local token, version = line:match("^(%S+)%s+(%d+)$")
      table.insert(tokens, token)
      table.insert(versions, tonumber(version))
    end
  end
  counter = 0
  known = {}  -- token -> version the server last answered
  headers = {
    ["HX-Request"] = "true",
    ["Sec-Fetch-Site"] = "same-origin",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  common.init_counters()
  check = common.check(marker)
end

function request()
  local i = counter % #tokens + 1
  counter = counter + 1
  local token = tokens[i]
  local version = known[token] or versions[i]
  local form = (version % 2 == 1) and form_b or form_a
  local body = "t=" .. token .. "&version=" .. version ..
    "&submission=" .. tag .. "-" .. tid .. "-" .. counter ..
    "&notice=" .. notice .. "&lang=" .. lang .. "&" .. form .. "&action=save"
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  check(status, hdrs, body)
  local token = string.match(body, 'name="t" value="([^"]+)"')
  if token then
    known[token] = tonumber(string.match(body, 'name="version" value="(%d+)"'))
  end
  if bad > 0 then common.export_statuses() end
end

done = common.done
