-- wrk script for POST /api/v1/alertmanager: every request carries new alert events.
-- Arguments (after `--`): alerts-per-request, bearer token, run id, fingerprint pool, services.
-- Fingerprints are "<run>-<thread>-<n>-<i>" where n is a per-thread counter (or counter % pool
-- when pool > 0); startsAt grows with the counter, so every (fingerprint, startsAt) is new.
-- Each request is one Alertmanager group: all its alerts belong to one service, and the
-- service rotates over `services` values, so each service gets an incident.
-- Keep in step with bench/ingest/payload.py (the fixed-rate generator's twin).

local next_thread = 0

function setup(thread)
   thread:set("tid", next_thread)
   next_thread = next_thread + 1
end

local alerts, token, run, pool, services
local counter = 0
local base = 0

function init(args)
   alerts = tonumber(args[1]) or 1
   token = args[2] or "bench-token"
   run = args[3] or "r"
   pool = tonumber(args[4]) or 0
   services = tonumber(args[5]) or 5
   base = os.time() - 86400
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. token
end

local function starts_at(n)
   local secs = base + math.floor(n / 1000)
   return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%03dZ", n % 1000)
end

local function alert(service, fp, at)
   return '{"status":"firing","labels":{"alertname":"BenchHighErrorRate","service":"'
      .. service .. '","severity":"critical","instance":"' .. fp
      .. '"},"annotations":{"summary":"bench alert ' .. fp .. '"},"startsAt":"' .. at
      .. '","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.bench:9090/graph",'
      .. '"fingerprint":"' .. fp .. '"}'
end

function request()
   local n = counter
   counter = counter + 1
   local key = n
   if pool > 0 then
      key = n % pool
   end
   local service = "svc-" .. (n % services)
   local at = starts_at(n)
   local parts = {}
   for i = 1, alerts do
      parts[i] = alert(service, run .. "-" .. tid .. "-" .. key .. "-" .. (i - 1), at)
   end
   local body = '{"version":"4","groupKey":"{}:{service=\\"' .. service
      .. '\\"}","truncatedAlerts":0,"status":"firing","receiver":"firstresponder",'
      .. '"groupLabels":{"service":"' .. service .. '"},"commonLabels":{"service":"'
      .. service .. '"},"commonAnnotations":{},"externalURL":"http://alertmanager.bench:9093",'
      .. '"alerts":[' .. table.concat(parts, ",") .. ']}'
   return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
