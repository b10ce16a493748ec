-- wrk script: POST /api/usage/events with batches of 100 distinct usage events.
-- Every request carries new event ids, so every event is a real insert, never a duplicate.
-- Like clients that report their recent calls, the events of consecutive requests fall in the same
-- hour (the hour moves on every 500 requests of a thread).
local counter = 0
local threads = 0
local batch = tonumber(os.getenv("BATCH") or "100")
local key = os.getenv("METERR_ADMIN_KEY")

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local models = { "gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash" }
local providers = { "openai", "openai", "anthropic", "gemini" }

function request()
  counter = counter + 1
  local events = {}
  for i = 1, batch do
    local m = (i % 4) + 1
    local user = (counter * 7 + i) % 200
    events[i] = string.format(
      '{"id":"w%d-%d-%d","ts":"2026-11-%02dT%02d:%02d:00.000Z","provider":"%s","model":"%s",' ..
      '"input_tokens":%d,"cache_read_tokens":%d,"output_tokens":%d,"cost_usd":"0.000%d",' ..
      '"team":"team-%d","user":"user-%d","project":"project-%d","key_id":"key-%d","tags":{"env":"prod"}}',
      tid, counter, i, (math.floor(counter / 12000) % 28) + 1, math.floor(counter / 500) % 24, i % 60, providers[m], models[m],
      1000 + i, i, 100 + i, i, user % 20, user, i % 50, (counter + i) % 300)
  end
  return wrk.format("POST", "/api/usage/events",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key },
    "[" .. table.concat(events, ",") .. "]")
end

function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status
  io.write(string.format("http ingest: %d requests ok, %d events in %.2f s = %d events/s (batches of %d); p50 %.1f ms, p99 %.1f ms\n",
    ok, ok * batch, summary.duration / 1e6, math.floor(ok * batch / (summary.duration / 1e6)), batch,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
