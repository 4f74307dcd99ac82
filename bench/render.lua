-- GET a widget page with a random subscriber's token on every request.
--
-- wrk -s bench/render.lua URL -- PATH TOKEN_FILE MARKER ACCEPT_LANGUAGE
-- The same script drives the product (/c/<center>/preferences) and the baseline
-- (/bench/precomputed, which ignores the query), so the client does identical work.

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup

function init(args)
  path, token_file, marker, accept_language = args[1], args[2], args[3] or "", args[4] or "en"
  tokens = common.read_lines(token_file)
  math.randomseed(os.time() * 1000 + tid)
  headers = { ["Accept-Language"] = accept_language }
  common.init_counters()
  check = common.check(marker)
end

function request()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", path .. "?t=" .. token, headers)
end

function response(status, hdrs, body)
  check(status, hdrs, body)
  if bad > 0 then common.export_statuses() end
end

done = common.done
