"""Calls a meterr that exports to the receiver, with the official OpenAI and Anthropic SDKs and a W3C
trace context of the caller's, then checks what the receiver decoded: one client span per call with
the GenAI attributes and meterr's cost and attribution, the caller's trace continued, the provider
called with meterr's span as parent, and cost and token metrics. Exits non-zero on any failure."""
import json
import os
import sys
import time
import urllib.request

import anthropic
import openai

BASE, KEY, OUT = os.environ["METERR_URL"], os.environ["METERR_ADMIN_KEY"], os.environ["OTEL_OUT"]
TRACE_ID, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
failures, passed = [], []


def check(name, condition, detail=""):
    (passed if condition else failures).append(name)
    print(f"{'ok  ' if condition else 'FAIL'}  {name}{'' if condition else f': {detail}'}")


def lines(name):
    try:
        with open(f"{OUT}/{name}") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


caller = {"traceparent": f"00-{TRACE_ID}-{PARENT}-01", "x-meterr-team": "research", "x-meterr-user": "otel-user"}
openai.OpenAI(base_url=f"{BASE}/openai/v1", api_key=KEY, default_headers=caller).chat.completions.create(
    model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
anthropic.Anthropic(base_url=f"{BASE}/anthropic", api_key=KEY).messages.create(
    model="claude-sonnet-4-5-20250929", max_tokens=64, messages=[{"role": "user", "content": "hi"}])

deadline = time.time() + 20
while time.time() < deadline and (len(lines("spans.jsonl")) < 2 or not lines("metrics.jsonl")):
    time.sleep(0.2)
spans = {span["attributes"].get("gen_ai.system"): span for span in lines("spans.jsonl")}
check("two spans exported over OTLP/HTTP", len(lines("spans.jsonl")) == 2, lines("spans.jsonl"))

chat = spans.get("openai", {})
attributes = chat.get("attributes", {})
check("span name and kind (client)", chat.get("name") == "chat gpt-4.1" and chat.get("kind") == 3, chat)
check("service.name", chat.get("service") == "meterr-check", chat.get("service"))
check("caller's trace continued", chat.get("trace_id") == TRACE_ID and chat.get("parent_span_id") == PARENT, chat)
check("GenAI attributes", attributes.get("gen_ai.request.model") == "gpt-4.1"
      and attributes.get("gen_ai.response.model") == "gpt-4.1-2025-04-14"
      and attributes.get("gen_ai.operation.name") == "chat"
      and str(attributes.get("gen_ai.usage.input_tokens")) == "1200"
      and str(attributes.get("gen_ai.usage.output_tokens")) == "8", attributes)
events = json.load(urllib.request.urlopen(urllib.request.Request(
    f"{BASE}/api/usage/events?limit=10", headers={"Authorization": f"Bearer {KEY}"})))["events"]
recorded = {event["provider"]: event for event in events}
check("cost and attribution equal the ledger's", attributes.get("meterr.cost_usd") == recorded["openai"]["cost_usd"]
      and attributes.get("meterr.team") == "research" and attributes.get("meterr.user") == "otel-user"
      and attributes.get("meterr.request_id") == recorded["openai"]["request_id"], (attributes, recorded["openai"]))
check("span times are the call's", chat.get("end", 0) >= chat.get("start", 1) > 0, chat)

claude = spans.get("anthropic", {})
check("a call without trace context starts its own trace", claude.get("parent_span_id") == ""
      and len(claude.get("trace_id", "")) == 32 and claude.get("trace_id") != TRACE_ID, claude)
check("cache reads as gen_ai.usage.cache_read_input_tokens",
      str(claude.get("attributes", {}).get("gen_ai.usage.cache_read_input_tokens")) == "10000", claude)

seen = [json.loads(line) for line in open(os.environ["FAKE_PROVIDER_TRACE_LOG"])]
openai_seen = next((entry for entry in seen if entry["path"].endswith("/chat/completions")), {})
check("the provider got meterr's span as parent",
      openai_seen.get("traceparent") == f"00-{TRACE_ID}-{chat.get('span_id')}-01", (openai_seen, chat.get("span_id")))

metrics = lines("metrics.jsonl")
cost = [point for point in metrics if point["name"] == "meterr.cost" and point["attributes"].get("gen_ai.system") == "openai"]
tokens = [point for point in metrics if point["name"] == "gen_ai.client.token.usage"
          and point["attributes"].get("gen_ai.system") == "openai" and point["attributes"].get("gen_ai.token.type") == "input"]
check("cost metric in USD", cost and abs(cost[-1]["value"] - float(recorded["openai"]["cost_usd"])) < 1e-9, cost)
check("token metric", tokens and int(tokens[-1]["value"]) == 1200, tokens)
print(f"otel-check: {len(passed)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
