"""The official OpenAI and Anthropic Python SDKs against meterr's response cache (fake_provider.py
upstream): each call is made twice with `x-meterr-cache: on`, and the second (a hit, answered by meterr
alone) must parse exactly as the first did, whole and streamed, with its own id; a streamed call is
served from a whole answer; the ledger records each hit with no tokens, a cost of 0 and saved_usd equal
to the first call's cost; the savings report counts the hits. Exits non-zero on any failure.

Env: METERR_URL, METERR_ADMIN_KEY."""
import json
import os
import sys
import time
import traceback
import urllib.request

import anthropic
import openai

BASE = os.environ.get("METERR_URL", "http://127.0.0.1:1")
KEY = os.environ.get("METERR_ADMIN_KEY") or "unset"
ON = {"x-meterr-cache": "on"}
failures, passed = [], []

chat = openai.OpenAI(base_url=f"{BASE}/openai/v1", api_key=KEY, max_retries=0, timeout=30)
claude = anthropic.Anthropic(base_url=f"{BASE}/anthropic", api_key=KEY, max_retries=0, timeout=30)


def check(name, fn):
    try:
        fn()
        passed.append(name)
        print(f"ok    {name}")
    except Exception as error:  # noqa: BLE001 - report every failure, keep going
        failures.append(name)
        here = [f"line {f.lineno}" for f in traceback.extract_tb(error.__traceback__)
                if f.filename == os.path.abspath(__file__)]
        print(f"FAIL  {name}: {type(error).__name__}: {error}  [{' < '.join(reversed(here[-3:]))}]")


def api(path):
    request = urllib.request.Request(BASE + path, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def event(request_id):
    """The ledger's event of a request id (events are committed a moment after the answer)."""
    for _ in range(100):
        for found in api("/api/usage/events?limit=100")["events"]:
            if found["request_id"] == request_id:
                return found
        time.sleep(0.05)
    raise AssertionError(f"no event for {request_id}")


def wait_for_answers(count):
    """Answers are kept off the call's path: wait until the cache holds `count`."""
    for _ in range(100):
        if api("/api/cache")["entries"] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the cache never held {count} answers")


def twice(create, stored):
    """Calls `create` (a with_raw_response call) twice; returns both raw responses, checking miss then hit."""
    first = create()
    assert first.headers.get("x-meterr-cache") == "miss", f"first call: {first.headers.get('x-meterr-cache')}"
    wait_for_answers(stored)
    second = create()
    assert second.headers.get("x-meterr-cache") == "hit", f"second call: {second.headers.get('x-meterr-cache')}"
    assert second.headers.get("x-meterr-cache-key") == first.headers.get("x-meterr-cache-key")
    return first, second


def accounted(first, second):
    """The hit's event: no tokens, cost 0, saved_usd = the first call's cost."""
    missed = event(first.headers["x-meterr-request-id"])
    hit = event(second.headers["x-meterr-request-id"])
    assert missed["cache_hit"] is False and hit["cache_hit"] is True, (missed["cache_hit"], hit["cache_hit"])
    assert hit["cost_usd"] == "0.000000000" and hit["input_tokens"] == 0 and hit["output_tokens"] == 0, hit
    assert hit["saved_usd"] == missed["cost_usd"], (hit["saved_usd"], missed["cost_usd"])


def openai_whole():
    def create():
        return chat.chat.completions.with_raw_response.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "whole"}], extra_headers=ON)
    first, second = twice(create, 1)
    a, b = first.parse(), second.parse()
    assert a.choices[0].message.content == b.choices[0].message.content, (a, b)
    assert a.usage.prompt_tokens == b.usage.prompt_tokens and a.usage.completion_tokens == b.usage.completion_tokens
    assert a.id != b.id and b.id.startswith("chatcmpl-"), (a.id, b.id)
    accounted(first, second)


def openai_stream():
    def create():
        return chat.chat.completions.with_raw_response.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "streamed"}], stream=True,
            stream_options={"include_usage": True}, extra_headers=ON)
    first, second = twice(create, 2)
    a, b = list(first.parse()), list(second.parse())
    assert len(a) == len(b) and len(a) > 2, (len(a), len(b))
    text = lambda chunks: "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)  # noqa: E731
    assert text(a) == text(b) and text(a), (text(a), text(b))
    assert a[-1].usage is not None and b[-1].usage.total_tokens == a[-1].usage.total_tokens
    assert a[0].id != b[0].id, "a replayed stream has its own id"
    accounted(first, second)


def openai_reshaped():
    messages = [{"role": "user", "content": "whole, then streamed"}]
    first = chat.chat.completions.with_raw_response.create(model="gpt-4.1", messages=messages, extra_headers=ON)
    assert first.headers.get("x-meterr-cache") == "miss"
    wait_for_answers(3)
    second = chat.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=messages, stream=True, extra_headers=ON)
    assert second.headers.get("x-meterr-cache") == "hit", second.headers.get("x-meterr-cache")
    chunks = list(second.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == first.parse().choices[0].message.content, text
    assert chunks[-1].choices[0].finish_reason == "stop"


def anthropic_stream():
    def create():
        return claude.messages.with_raw_response.create(
            model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=True,
            extra_headers=ON)
    first, second = twice(create, 4)
    a, b = list(first.parse()), list(second.parse())
    assert [e.type for e in a] == [e.type for e in b], ([e.type for e in a], [e.type for e in b])
    text = lambda events: "".join(  # noqa: E731
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text(a) == text(b) and text(a)
    assert a[0].message.id != b[0].message.id, "a replayed stream has its own message id"
    accounted(first, second)


def report():
    found = api("/api/optimize")
    assert found["cache_hits"] == 4, found["cache_hits"]
    assert found["cache_saved_usd"] != "0.000000000"


check("OpenAI SDK, a whole answer: the hit parses as the first, with its own id", openai_whole)
check("OpenAI SDK, a stream with usage: the hit replays every chunk", openai_stream)
check("OpenAI SDK, a streamed call served from a whole answer", openai_reshaped)
check("Anthropic SDK, a stream: the hit replays every event with its own message id", anthropic_stream)
check("the savings report counts the hits and what they saved", report)
print(f"cache-check: {len(passed)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
