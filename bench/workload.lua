-- One wrk script for every workload of bench/run.sh, chosen by environment variables:
--   BN_MODE     get | list | list_deep | create | patch | token | unauthorized | live | ceiling
--               | changes (a page of 1000 changes with include=record)
--               (ceiling: GET /companies/{id} of examples/driver_ceiling.rs)
--   BN_TOKEN    bearer token (all but token, unauthorized, live, ceiling)
--   BN_FROM, BN_TO        company ids to read or patch (inclusive)
--   BN_REGION   region id for list, list_deep and create
--   BN_CURSOR   cursor for list_deep
--   BN_PASSWORD admin password for token
--   BN_THREADS  wrk's -t, so that patch can split its ids between threads
-- done() prints one JSON object with the run's numbers.

local mode = os.getenv("BN_MODE")
local token = os.getenv("BN_TOKEN") or ""
local from = tonumber(os.getenv("BN_FROM") or "1")
local to = tonumber(os.getenv("BN_TO") or "1")
local region = os.getenv("BN_REGION") or "1"
local cursor = os.getenv("BN_CURSOR") or ""
local password = os.getenv("BN_PASSWORD") or ""
local threads = tonumber(os.getenv("BN_THREADS") or "1")

local next_thread = 0
function setup(thread)
  thread:set("index", next_thread)
  next_thread = next_thread + 1
end

local counter = 0
local lo, hi
function init(args)
  math.randomseed(1000 + (index or 0))
  -- PATCH: each thread owns a slice of the ids and patches them round-robin. An id comes
  -- round again only after the whole slice, long after its last patch was answered, so its
  -- version is known: 1 + the number of completed rounds.
  local span = math.floor((to - from + 1) / threads)
  lo = from + (index or 0) * span
  hi = lo + span - 1
end

local function bearer(extra)
  local headers = extra or {}
  headers["Authorization"] = "Bearer " .. token
  return headers
end

function request()
  counter = counter + 1
  if mode == "get" then
    return wrk.format("GET", "/api/v1/companies/" .. math.random(from, to), bearer())
  elseif mode == "ceiling" then
    return wrk.format("GET", "/companies/" .. math.random(from, to))
  elseif mode == "list" then
    return wrk.format("GET", "/api/v1/companies?region_id=" .. region .. "&sort=name&limit=50", bearer())
  elseif mode == "list_deep" then
    return wrk.format("GET", "/api/v1/companies?region_id=" .. region .. "&sort=name&limit=50&cursor=" .. cursor, bearer())
  elseif mode == "create" then
    local body = string.format('{"name":"Benchmark-Neugruendung %d-%d","region_id":%s,"employee_count":%d}',
      index or 0, counter, region, counter % 200)
    return wrk.format("POST", "/api/v1/companies", bearer({["Content-Type"] = "application/json"}), body)
  elseif mode == "patch" then
    -- wrk sends a thread's first request twice (it builds one up front): make it a read, so
    -- the duplicate can't patch with a stale version.
    if counter == 1 then
      return wrk.format("GET", "/api/v1/companies/" .. lo, bearer())
    end
    local n = counter - 1
    local span = hi - lo + 1
    local id = lo + (n - 1) % span
    local version = 1 + math.floor((n - 1) / span)
    local headers = bearer({["Content-Type"] = "application/merge-patch+json", ["If-Match"] = '"' .. version .. '"'})
    return wrk.format("PATCH", "/api/v1/companies/" .. id, headers, '{"apprentice_count":' .. (counter % 20) .. '}')
  elseif mode == "token" then
    local body = "grant_type=password&username=admin&password=" .. password
    return wrk.format("POST", "/api/v1/auth/token", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  elseif mode == "unauthorized" then
    return wrk.format("GET", "/api/v1/companies/" .. math.random(from, to))
  elseif mode == "changes" then
    return wrk.format("GET", "/api/v1/changes?after=0&limit=1000&include=record", bearer())
  elseif mode == "live" then
    return wrk.format("GET", "/health/live")
  end
  error("unknown BN_MODE " .. tostring(mode))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
