"""The official OpenAI Python SDK on meterr's unified `/v1/chat/completions` with `anthropic/…`,
`gemini/…` and `cohere/…` models, which meterr translates to each provider's NATIVE API (served by
fake_native.py from the recorded fixtures). Checks the answers the SDK parses, the native requests
the fake received (its FAKE_NATIVE_LOG), and the ledger. Every expected number is computed from the
fixture files here, never written down twice. Exits non-zero on any failure.

Env: METERR_URL, METERR_ADMIN_KEY, FAKE_NATIVE_LOG. Each call carries `x-meterr-tags: check=<name>`,
so each ledger event is matched to the call that made it; the fake's log is read from a mark taken
before each call, so each call is matched to the native requests it caused.

The router's checks call the virtual models run.sh configures (fast, steady, every, meterr/auto), make
providers fail with fake_native.py's `x-fake-fail` header, and follow each attempt through the fake's
log, the answer's x-meterr-route, the ledger's events of the call's request id and /api/routes/health."""
import calendar
import json
import os
import sys
import time
import traceback
import urllib.request
from decimal import Decimal

import openai

BASE = os.environ.get("METERR_URL", "http://127.0.0.1:1")
KEY = os.environ.get("METERR_ADMIN_KEY") or "unset"
LOG = os.environ.get("FAKE_NATIVE_LOG", "")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "MeterrProvidersTests", "Fixtures")
CATALOG = os.path.join(ROOT, "Sources", "MeterrPricing", "Resources", "catalog.json")

client = openai.OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0, timeout=30)
failures, passed, notes = [], [], []


def check(name, fn, *args):
    try:
        fn(*args)
        passed.append(name)
        print(f"ok    {name}")
    except Exception as error:  # noqa: BLE001 - report every failure, keep going
        failures.append(name)
        here = [f"line {f.lineno} ({f.name})" for f in traceback.extract_tb(error.__traceback__)
                if f.filename == os.path.abspath(__file__)]
        print(f"FAIL  {name}: {type(error).__name__}: {error}  [{' < '.join(reversed(here[-3:]))}]")


def note(message):
    notes.append(message)
    print(f"note  {message}")


# ---------------------------------------------------------------- what the fixtures imply

class Expect:
    """What one recorded answer means in the OpenAI format and in the ledger."""

    def __init__(self, source, *, model, text, calls, finish, prompt, completion, cached=0, reasoning=0,
                 write5m=0, write1h=0):
        self.source, self.model, self.text, self.calls, self.finish = source, model, text, calls, finish
        self.prompt, self.completion, self.cached, self.reasoning = prompt, completion, cached, reasoning
        self.write5m, self.write1h = write5m, write1h

    def __repr__(self):
        return (f"{self.source}: model {self.model}, prompt {self.prompt} (cached {self.cached}, cache writes "
                f"{self.write5m}+{self.write1h}), completion {self.completion} (reasoning {self.reasoning}), "
                f"finish {self.finish}, {len(self.calls)} tool calls")


def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


def sse(name):
    """The events of an SSE fixture as (event name or None, parsed data); [DONE] skipped."""
    events = []
    for block in read(name).decode().replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event, lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].lstrip(" "))
        data = "\n".join(lines)
        if data != "[DONE]":
            events.append((event, json.loads(data)))
    return events


ANTHROPIC_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
GEMINI_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
COHERE_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}


def anthropic_usage(source, model, usage, text, calls, stop_reason):
    """Anthropic: input_tokens EXCLUDES cache reads and writes; prompt_tokens is their sum."""
    breakdown = usage.get("cache_creation") or {}
    writes = usage.get("cache_creation_input_tokens") or 0
    write1h = breakdown.get("ephemeral_1h_input_tokens", 0) if breakdown else 0
    write5m = breakdown.get("ephemeral_5m_input_tokens", writes - write1h) if breakdown else writes
    read_ = usage.get("cache_read_input_tokens") or 0
    return Expect(source, model=model, text=text, calls=calls, finish=ANTHROPIC_FINISH[stop_reason],
                  prompt=usage["input_tokens"] + writes + read_, completion=usage["output_tokens"], cached=read_,
                  reasoning=(usage.get("output_tokens_details") or {}).get("thinking_tokens", 0),
                  write5m=write5m, write1h=write1h)


def anthropic_fixture(name):
    if name.endswith(".json"):
        body = json.loads(read(name))
        text = "".join(b["text"] for b in body["content"] if b["type"] == "text")
        calls = [(b["id"], b["name"], b["input"]) for b in body["content"] if b["type"] == "tool_use"]
        return anthropic_usage(name, body["model"], body["usage"], text, calls, body["stop_reason"])
    usage, model, text, blocks, stop = {}, None, "", {}, None
    for _, data in sse(name):
        kind = data["type"]
        if kind == "message_start":
            model, usage = data["message"]["model"], dict(data["message"]["usage"])
        elif kind == "content_block_start" and data["content_block"]["type"] == "tool_use":
            block = data["content_block"]
            blocks[data["index"]] = [block["id"], block["name"], ""]
        elif kind == "content_block_delta" and data["delta"]["type"] == "text_delta":
            text += data["delta"]["text"]
        elif kind == "content_block_delta" and data["delta"]["type"] == "input_json_delta":
            blocks[data["index"]][2] += data["delta"]["partial_json"]
        elif kind == "message_delta":
            stop = data["delta"].get("stop_reason") or stop
            usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})  # cumulative: replace
    calls = [(i, n, json.loads(a or "{}")) for _, (i, n, a) in sorted(blocks.items())]
    return anthropic_usage(name, model, usage, text, calls, stop)


def gemini_usage(source, model, meta, text, calls, finish):
    """Gemini: prompt includes cached content (+ tool-use prompt); thoughts are billed as output."""
    finish = "tool_calls" if calls and finish == "STOP" else GEMINI_FINISH[finish]
    thoughts = meta.get("thoughtsTokenCount", 0)
    return Expect(source, model=model, text=text, calls=calls, finish=finish,
                  prompt=meta.get("promptTokenCount", 0) + meta.get("toolUsePromptTokenCount", 0),
                  completion=meta.get("candidatesTokenCount", 0) + thoughts,
                  cached=meta.get("cachedContentTokenCount", 0), reasoning=thoughts)


def gemini_parts(parts):
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    calls = [(None, p["functionCall"]["name"], p["functionCall"].get("args", {})) for p in parts if "functionCall" in p]
    return text, calls


def gemini_fixture(name):
    if name.endswith(".json"):
        body = json.loads(read(name))
        candidate = body["candidates"][0]
        text, calls = gemini_parts(candidate["content"]["parts"])
        return gemini_usage(name, body["modelVersion"], body["usageMetadata"], text, calls, candidate["finishReason"])
    text, calls, meta, finish, model = "", [], {}, None, None
    for _, data in sse(name):
        candidate = data["candidates"][0]
        more_text, more_calls = gemini_parts(candidate.get("content", {}).get("parts", []))
        text, calls = text + more_text, calls + more_calls
        finish = candidate.get("finishReason") or finish
        meta = data.get("usageMetadata") or meta  # running totals: the last one wins
        model = data.get("modelVersion") or model
    return gemini_usage(name, model, meta, text, calls, finish)


def cohere_usage(source, model, usage, text, calls, finish):
    """Cohere: billed_units is what Cohere charges (tokens.* include its prompt template)."""
    billed = usage["billed_units"]
    return Expect(source, model=model, text=text, calls=calls, finish=COHERE_FINISH[finish],
                  prompt=int(billed["input_tokens"]), completion=int(billed["output_tokens"]))


def cohere_fixture(name, model):
    """Cohere's answer names no model: the ledger keeps the model the call asked for."""
    if name.endswith(".json"):
        body = json.loads(read(name))
        message = body["message"]
        text = "".join(c["text"] for c in message.get("content") or [] if c["type"] == "text")
        calls = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.get("tool_calls") or []]
        return cohere_usage(name, model, body["usage"], text, calls, body["finish_reason"])
    text, calls, usage, finish = "", {}, None, None
    for _, data in sse(name):
        kind, delta = data["type"], data.get("delta") or {}
        if kind == "content-delta":
            text += delta["message"]["content"]["text"]
        elif kind == "tool-call-start":
            call = delta["message"]["tool_calls"]
            calls[data["index"]] = [call["id"], call["function"]["name"], call["function"].get("arguments") or ""]
        elif kind == "tool-call-delta":
            calls[data["index"]][2] += delta["message"]["tool_calls"]["function"]["arguments"]
        elif kind == "message-end":
            finish, usage = delta["finish_reason"], delta["usage"]
    calls = [(i, n, json.loads(a)) for _, (i, n, a) in sorted(calls.items())]
    return cohere_usage(name, model, usage, text, calls, finish)


def openai_fixture(name, model):
    """The compatible surfaces answer with openai-chat (the fake names the requested model in it)."""
    if name.endswith(".json"):
        body = json.loads(read(name))
        usage, text, finish = body["usage"], body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]
    else:
        events = [data for _, data in sse(name)]
        usage = next(e["usage"] for e in events if e.get("usage"))
        text = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
        finish = next(c["finish_reason"] for e in events for c in e["choices"] if c.get("finish_reason"))
    return Expect(name, model=model, text=text, calls=[], finish=finish, prompt=usage["prompt_tokens"],
                  completion=usage["completion_tokens"], cached=(usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
                  reasoning=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0))


# ---------------------------------------------------------------- prices, from the catalog meterr ships

with open(CATALOG) as handle:
    _catalog = json.load(handle)["models"]


def expected_cost(provider, model, fx):
    """The catalog's price for the counts (CostEngine's rules: the long-context tier on the total
    input; cache prices fall back to the input price; no reasoning price means output price)."""
    entry = next((m for m in _catalog if m["provider"] == provider and (m["model"] == model or model in m.get("aliases", []))), None)
    if entry is None:
        return None
    today = time.strftime("%Y-%m-%d", time.gmtime())
    version = max((v for v in entry["versions"] if v["effective_from"] <= today), key=lambda v: v["effective_from"])
    prices = version
    if version.get("long_context") and fx.prompt > version["long_context"]["above_input_tokens"]:
        prices = version["long_context"]
    price = {k: Decimal(prices[k]) for k in ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning")
             if isinstance(prices.get(k), str)}
    cache_read = price.get("cache_read", price["input"])
    write5m = price.get("cache_write_5m", price["input"])
    write1h = price.get("cache_write_1h", write5m)
    reasoning = fx.reasoning if "reasoning" in price else 0
    total = ((fx.prompt - fx.cached - fx.write5m - fx.write1h) * price["input"] + fx.cached * cache_read
             + fx.write5m * write5m + fx.write1h * write1h + (fx.completion - reasoning) * price["output"]
             + reasoning * price.get("reasoning", price["output"]))
    return (total / Decimal(1_000_000)).quantize(Decimal("0.000000001"))


# ---------------------------------------------------------------- the fake's log

def log_lines():
    try:
        with open(LOG) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def summary(entries):
    return "; ".join(f"{e['method']} {e['path']}{'?' + e['query'] if e.get('query') else ''} -> {e['status']}"
                     f"{' (' + e['error'] + ')' if e.get('error') else ''}" for e in entries) or "no request"


def sdk(where, fn):
    """Runs one SDK call (fn consumes any stream) and returns (result, native requests it caused);
    an SDK error is reported with what the fake saw, which usually names the cause."""
    mark = len(log_lines())
    try:
        result = fn()
    except openai.APIStatusError as error:
        raise AssertionError(f"{where}: meterr answered {error.status_code} {error.message!r}; the fake saw: "
                             f"{summary(log_lines()[mark:])}") from error
    except openai.APIError as error:
        raise AssertionError(f"{where}: {type(error).__name__} {error}; the fake saw: {summary(log_lines()[mark:])}") from error
    return result, log_lines()[mark:]


def one_request(where, entries, surface="native"):
    assert len(entries) == 1, f"{where}: expected one upstream request, the fake saw {len(entries)}: {summary(entries)}"
    entry = entries[0]
    assert entry["surface"] == surface, f"{where}: expected the {surface} surface, meterr called {entry['path']}"
    assert entry["status"] == 200, f"{where}: the fake refused meterr's request: {entry['error']}"
    return entry


def camel(obj):
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        parts = key.split("_")
        out[parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])] = value
    return out


# ---------------------------------------------------------------- providers

PROVIDERS = {
    "anthropic": {"model": "anthropic/claude-sonnet-4-5-20250929", "bare": "claude-sonnet-4-5-20250929",
                  "key": os.environ.get("ANTHROPIC_API_KEY", "real-ANTHROPIC-key"),
                  "plain": "anthropic-messages", "tools": "anthropic-messages-tools",
                  "compatible": "/v1/chat/completions", "read": anthropic_fixture},
    "gemini": {"model": "gemini/gemini-2.5-flash", "bare": "gemini-2.5-flash",
               "key": os.environ.get("GEMINI_API_KEY", "real-GEMINI-key"),
               "plain": "gemini-generate", "tools": "gemini-generate-tools",
               "compatible": "/v1beta/openai/chat/completions", "read": gemini_fixture},
    "cohere": {"model": "cohere/command-a-03-2025", "bare": "command-a-03-2025",
               "key": os.environ.get("COHERE_API_KEY", "real-COHERE-key"),
               "plain": "cohere-chat", "tools": "cohere-chat-tools",
               "compatible": "/compatibility/v1/chat/completions",
               "read": lambda name: cohere_fixture(name, "command-a-03-2025")},
}

LEDGER = {}      # tag: (provider, Expect, stream) of every call that must leave exactly one event
UNMETERED = []   # tags of calls meterr refused itself: no event with tokens
TOOL_RESULTS = {}  # provider: the non-streamed round trip's tool calls, for the streamed one to match


ATTEMPTED = set()  # tags of every call made, answered or not


def tags(tag, **headers):
    ATTEMPTED.add(tag)
    return {"x-meterr-tags": f"check={tag}", **headers}


def expect_event(tag, provider, fx, stream):
    LEDGER[tag] = (provider, fx, stream)


def native_path(provider, entry, stream, where):
    bare = PROVIDERS[provider]["bare"]
    if provider == "anthropic":
        assert entry["path"] == "/v1/messages", f"{where}: meterr called {entry['path']}, not /v1/messages"
        assert (entry["body"].get("stream") is True) == stream, f"{where}: body stream is {entry['body'].get('stream')!r}"
    elif provider == "gemini":
        method = "streamGenerateContent" if stream else "generateContent"
        assert entry["path"] == f"/v1beta/models/{bare}:{method}", f"{where}: meterr called {entry['path']}"
        if stream:
            assert "alt=sse" in entry["query"].split("&"), f"{where}: streaming without ?alt=sse (query {entry['query']!r})"
    else:
        assert entry["path"] == "/v2/chat", f"{where}: meterr called {entry['path']}, not /v2/chat"
        assert (entry["body"].get("stream") is True) == stream, f"{where}: body stream is {entry['body'].get('stream')!r}"
    if provider != "gemini":
        assert entry["body"].get("model") == bare, f"{where}: the native body names model {entry['body'].get('model')!r}, not {bare!r}"


def check_usage(where, usage, fx):
    assert usage is not None, f"{where}: the answer has no usage"
    got = (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
    want = (fx.prompt, fx.completion, fx.prompt + fx.completion)
    assert got == want, f"{where}: usage (prompt, completion, total) is {got}, the fixture implies {want} [{fx}]"
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else None
    assert (cached or 0) == fx.cached, f"{where}: prompt_tokens_details.cached_tokens is {cached}, the fixture implies {fx.cached}"
    reasoning = usage.completion_tokens_details.reasoning_tokens if usage.completion_tokens_details else None
    assert (reasoning or 0) == fx.reasoning, \
        f"{where}: completion_tokens_details.reasoning_tokens is {reasoning}, the fixture implies {fx.reasoning}"


def message_calls(message):
    return [(c.id, c.type, c.function.name, c.function.arguments) for c in message.tool_calls or []]


def check_calls(where, got, fx, ids=True):
    """got: [(id, type, name, arguments string)]; compared with the fixture's calls (arguments as JSON)."""
    assert len(got) == len(fx.calls), f"{where}: {len(got)} tool calls, the fixture has {len(fx.calls)}: {got}"
    for n, ((gid, gtype, gname, garguments), (fid, fname, finput)) in enumerate(zip(got, fx.calls)):
        assert gtype == "function", f"{where}: tool call {n} has type {gtype!r}"
        assert isinstance(gid, str) and gid, f"{where}: tool call {n} has no id"
        if ids and fid is not None:
            assert gid == fid, f"{where}: tool call {n} has id {gid!r}, the provider's was {fid!r}"
        assert gname == fname, f"{where}: tool call {n} is {gname!r}, the fixture's is {fname!r}"
        try:
            parsed = json.loads(garguments)
        except (TypeError, ValueError):
            raise AssertionError(f"{where}: tool call {n} arguments are not JSON: {garguments!r}") from None
        assert parsed == finput, f"{where}: tool call {n} arguments {parsed}, the fixture's {finput}"
    assert len({c[0] for c in got}) == len(got), f"{where}: tool call ids repeat: {[c[0] for c in got]}"


class Streamed:
    """A chat.completion.chunk stream as the SDK yielded it, checked and assembled."""

    def __init__(self, where, chunks):
        assert chunks, f"{where}: the stream yielded no chunk"
        ids = {c.id for c in chunks}
        assert len(ids) == 1, f"{where}: chunks carry several ids {ids}"
        objects = {c.object for c in chunks}
        assert objects == {"chat.completion.chunk"}, f"{where}: chunk objects {objects}"
        self.text, self.finishes, self.roles, self.usage_at = "", [], [], []
        slots, firsts = {}, {}
        for n, chunk in enumerate(chunks):
            if chunk.usage is not None:
                self.usage_at.append(n)
            for choice in chunk.choices:
                assert choice.index == 0, f"{where}: chunk {n} has choice index {choice.index}"
                delta = choice.delta
                if delta.role:
                    self.roles.append(delta.role)
                if delta.content:
                    self.text += delta.content
                for call in delta.tool_calls or []:
                    if call.index not in slots:
                        slots[call.index] = [None, None, None, ""]
                        firsts[call.index] = (call.id, call.function.name if call.function else None)
                    slot = slots[call.index]
                    if call.id:
                        assert slot[0] in (None, call.id), f"{where}: tool call {call.index} changes id {slot[0]} -> {call.id}"
                        slot[0] = call.id
                    if call.type:
                        slot[1] = call.type
                    if call.function and call.function.name:
                        slot[2] = call.function.name
                    if call.function and call.function.arguments:
                        slot[3] += call.function.arguments
                if choice.finish_reason:
                    self.finishes.append(choice.finish_reason)
        assert sorted(slots) == list(range(len(slots))), \
            f"{where}: tool-call indices must count the tool calls from 0, got {sorted(slots)}"
        for index, (first_id, first_name) in firsts.items():
            assert first_id and first_name, \
                f"{where}: the first delta of tool call {index} must carry its id and name (got id {first_id!r}, name {first_name!r})"
        assert self.roles[:1] == ["assistant"], f"{where}: the first delta's role is not assistant: {self.roles}"
        assert len(self.finishes) == 1, f"{where}: finish_reason came {len(self.finishes)} times: {self.finishes}"
        self.finish = self.finishes[0]
        self.calls = [tuple(slots[i]) for i in sorted(slots)]
        self.chunks = chunks


# ---------------------------------------------------------------- the checks

def plain(provider):
    p = PROVIDERS[provider]
    tag, fx = f"{provider}.plain", p["read"](p["plain"] + ".json")
    raw, entries = sdk(tag, lambda: client.chat.completions.with_raw_response.create(
        model=p["model"], messages=[{"role": "user", "content": "hi"}], max_completion_tokens=300, temperature=0.2,
        stop=["END"], extra_headers=tags(tag)))
    expect_event(tag, provider, fx, False)
    entry = one_request(tag, entries)
    native_path(provider, entry, False, tag)
    body = entry["body"]
    if provider == "anthropic":
        got = (body.get("max_tokens"), body.get("temperature"), body.get("stop_sequences"))
        assert got == (300, 0.2, ["END"]), f"{tag}: Anthropic got (max_tokens, temperature, stop_sequences) {got}"
        assert entry["headers"].get("x-api-key") == p["key"], f"{tag}: x-api-key {entry['headers'].get('x-api-key')!r}"
        assert entry["headers"].get("anthropic-version") == "2023-06-01", f"{tag}: anthropic-version {entry['headers'].get('anthropic-version')!r}"
    elif provider == "gemini":
        config = camel(camel(body).get("generationConfig") or {})
        got = (config.get("maxOutputTokens"), config.get("temperature"), config.get("stopSequences"))
        assert got == (300, 0.2, ["END"]), f"{tag}: Gemini got generationConfig (maxOutputTokens, temperature, stopSequences) {got}"
        assert entry["headers"].get("x-goog-api-key") == p["key"], f"{tag}: x-goog-api-key {entry['headers'].get('x-goog-api-key')!r}"
        roles = [camel(c).get("role") for c in camel(body)["contents"]]
        assert roles == ["user"], f"{tag}: Gemini contents roles {roles}"
    else:
        got = (body.get("max_tokens"), body.get("temperature"), body.get("stop_sequences"))
        assert got == (300, 0.2, ["END"]), f"{tag}: Cohere got (max_tokens, temperature, stop_sequences) {got}"
        assert entry["headers"].get("authorization") == f"Bearer {p['key']}", f"{tag}: authorization {entry['headers'].get('authorization')!r}"
    reply = raw.parse()
    assert reply.object == "chat.completion", f"{tag}: object {reply.object!r}"
    assert reply.choices[0].message.role == "assistant", f"{tag}: role {reply.choices[0].message.role!r}"
    assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}, fixture {fx.text!r}"
    assert reply.choices[0].finish_reason == fx.finish, f"{tag}: finish_reason {reply.choices[0].finish_reason!r}, want {fx.finish!r}"
    check_usage(tag, reply.usage, fx)
    dropped = raw.headers.get("x-meterr-dropped-params")
    assert not dropped, f"{tag}: max_completion_tokens, temperature and stop are all supported, yet meterr dropped {dropped!r}"
    cost = raw.headers.get("x-meterr-cost-usd")
    want = expected_cost(provider, fx.model, fx)
    if cost is None:
        note(f"{tag}: no x-meterr-cost-usd header on a non-streamed translated answer")
    else:
        assert want is not None and abs(Decimal(cost) - want) <= Decimal("0.000000001"), f"{tag}: x-meterr-cost-usd {cost}, want {want}"


def stream_with_usage(provider):
    p = PROVIDERS[provider]
    tag, fx = f"{provider}.stream-usage", p["read"](p["plain"] + ".sse")
    chunks, entries = sdk(tag, lambda: list(client.chat.completions.create(
        model=p["model"], messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True}, extra_headers=tags(tag))))
    expect_event(tag, provider, fx, True)
    entry = one_request(tag, entries)
    native_path(provider, entry, True, tag)
    if provider == "anthropic":
        assert isinstance(entry["body"].get("max_tokens"), int), f"{tag}: Anthropic needs max_tokens even when the caller sets none"
    s = Streamed(tag, chunks)
    assert s.text == fx.text, f"{tag}: joined text {s.text!r}, fixture {fx.text!r}"
    assert s.finish == fx.finish, f"{tag}: finish_reason {s.finish!r}, want {fx.finish!r}"
    assert s.usage_at == [len(chunks) - 1], \
        f"{tag}: want exactly one usage chunk, the last; usage came on chunks {s.usage_at} of {len(chunks)}"
    assert chunks[-1].choices == [], f"{tag}: the usage chunk has choices {chunks[-1].choices}"
    check_usage(tag, chunks[-1].usage, fx)


def stream_raw(provider):
    """The same stream read as raw lines: data-only SSE, usage last, then `data: [DONE]` and nothing after."""
    p = PROVIDERS[provider]
    tag, fx = f"{provider}.stream-raw", p["read"](p["plain"] + ".sse")

    def run():
        with client.chat.completions.with_streaming_response.create(
                model=p["model"], messages=[{"role": "user", "content": "hi"}], stream=True,
                stream_options={"include_usage": True}, extra_headers=tags(tag)) as response:
            return response.headers.get("content-type", ""), list(response.iter_lines())
    (content_type, lines), entries = sdk(tag, run)
    expect_event(tag, provider, fx, True)
    one_request(tag, entries)
    assert content_type.startswith("text/event-stream"), f"{tag}: content-type {content_type!r}"
    fields = [line for line in lines if line.strip()]
    assert all(line.startswith("data:") for line in fields), f"{tag}: non-data SSE lines {[l for l in fields if not l.startswith('data:')][:3]}"
    data = [line[5:].strip() for line in fields]
    assert data and data[-1] == "[DONE]", f"{tag}: the stream does not end with data: [DONE] (last: {data[-1:]!r})"
    assert "[DONE]" not in data[:-1], f"{tag}: [DONE] before the end"
    payloads = [json.loads(d) for d in data[:-1]]
    assert payloads[-1].get("usage") and payloads[-1].get("choices") == [], f"{tag}: the line before [DONE] is not the usage chunk: {data[-2]!r}"
    assert all(p_.get("usage") is None for p_ in payloads[:-1]), f"{tag}: usage on a chunk before the last"
    assert payloads[-1]["usage"]["prompt_tokens"] == fx.prompt and payloads[-1]["usage"]["completion_tokens"] == fx.completion, \
        f"{tag}: raw usage {payloads[-1]['usage']} [{fx}]"


def stream_without_usage(provider):
    p = PROVIDERS[provider]
    tag, fx = f"{provider}.stream", p["read"](p["plain"] + ".sse")
    chunks, entries = sdk(tag, lambda: list(client.chat.completions.create(
        model=p["model"], messages=[{"role": "user", "content": "hi"}], stream=True, extra_headers=tags(tag))))
    expect_event(tag, provider, fx, True)
    native_path(provider, one_request(tag, entries), True, tag)
    s = Streamed(tag, chunks)
    assert s.text == fx.text, f"{tag}: joined text {s.text!r}, fixture {fx.text!r}"
    assert s.usage_at == [], f"{tag}: usage on chunks {s.usage_at} though the caller did not ask for it"


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city"]}}}
QUESTION = {"role": "user", "content": "What is the weather in Paris and in Tokyo?"}
RESULTS = ['{"temperature_c": 18, "sky": "clear"}', '{"temperature_c": 22, "sky": "rain"}']
RESULT_WORDS = ["clear", "rain"]


def check_tools_sent(where, provider, body, choice):
    """The first leg's native request: the tool in the provider's shape, the tool choice mapped."""
    if provider == "anthropic":
        tools = body.get("tools") or []
        assert [t.get("name") for t in tools] == ["get_weather"], f"{where}: Anthropic tools {tools}"
        assert tools[0].get("description") == WEATHER["function"]["description"], f"{where}: description {tools[0].get('description')!r}"
        schema = tools[0].get("input_schema") or {}
        assert schema.get("properties") == WEATHER["function"]["parameters"]["properties"], f"{where}: input_schema {schema}"
        want = {"auto": [None, {"type": "auto"}], "required": [{"type": "any"}]}[choice]
        assert body.get("tool_choice") in want, f"{where}: Anthropic tool_choice {body.get('tool_choice')!r}, want one of {want}"
    elif provider == "gemini":
        body = camel(body)
        declarations = [camel(d) for t in body.get("tools") or [] for d in camel(t).get("functionDeclarations") or []]
        assert [d.get("name") for d in declarations] == ["get_weather"], f"{where}: Gemini functionDeclarations {declarations}"
        params = declarations[0].get("parameters") or declarations[0].get("parametersJsonSchema") or {}
        assert set(params.get("properties") or {}) == {"city", "unit"}, f"{where}: Gemini parameters {params}"
        mode = camel(camel(body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
        want = {"auto": [None, "AUTO"], "required": ["ANY"]}[choice]
        assert mode in want, f"{where}: Gemini functionCallingConfig.mode {mode!r}, want one of {want}"
    else:
        tools = body.get("tools") or []
        assert len(tools) == 1 and tools[0].get("type") == "function" and tools[0]["function"].get("name") == "get_weather", \
            f"{where}: Cohere tools {tools}"
        want = {"auto": [None], "required": ["REQUIRED"]}[choice]
        assert body.get("tool_choice") in want, f"{where}: Cohere tool_choice {body.get('tool_choice')!r}, want one of {want}"


def check_results_sent(where, provider, body, fx, calls):
    """The second leg's native request: the assistant's tool calls replayed, then the results."""
    ids = [c[0] for c in calls]
    if provider == "anthropic":
        messages = body["messages"]
        assistant, results = messages[-2], messages[-1]
        assert assistant["role"] == "assistant" and isinstance(assistant["content"], list), f"{where}: Anthropic turn before the results {assistant}"
        uses = [(b["id"], b["name"], b["input"]) for b in assistant["content"] if b.get("type") == "tool_use"]
        assert uses == [(i, n, a) for i, (_, n, a) in zip(ids, fx.calls)], f"{where}: Anthropic tool_use blocks {uses}"
        assert results["role"] == "user", f"{where}: Anthropic tool results go in a user message, got {results['role']}"
        blocks = [b for b in results["content"] if b.get("type") == "tool_result"] if isinstance(results["content"], list) else []
        assert [b["tool_use_id"] for b in blocks] == ids, f"{where}: Anthropic tool_result ids {[b.get('tool_use_id') for b in blocks]}, want {ids}"
        for block, word in zip(blocks, RESULT_WORDS):
            assert word in json.dumps(block.get("content")), f"{where}: tool_result {block} lost the result text"
    elif provider == "gemini":
        contents = [camel(c) for c in camel(body)["contents"]]
        model_turn, user_turn = contents[-2], contents[-1]
        assert model_turn["role"] == "model", f"{where}: Gemini turn before the results is {model_turn['role']}"
        sent = [camel(camel(p_).get("functionCall")) for p_ in model_turn["parts"] if "functionCall" in camel(p_)]
        assert [(c.get("name"), c.get("args")) for c in sent] == [(n, a) for _, n, a in fx.calls], f"{where}: Gemini functionCall parts {sent}"
        if "thoughtSignature" not in camel(model_turn["parts"][0]):
            note(f"{where}: the replayed functionCall part has no thoughtSignature (optional on 2.5, required on Gemini 3)")
        assert user_turn["role"] == "user", f"{where}: Gemini function responses go in a user turn, got {user_turn['role']}"
        responses = [camel(camel(p_).get("functionResponse")) for p_ in user_turn["parts"] if "functionResponse" in camel(p_)]
        assert [r.get("name") for r in responses] == ["get_weather", "get_weather"], f"{where}: Gemini functionResponse parts {responses}"
        for response, word in zip(responses, RESULT_WORDS):
            assert isinstance(response.get("response"), dict) and word in json.dumps(response["response"]), \
                f"{where}: functionResponse.response {response.get('response')!r} lost the result"
    else:
        messages = body["messages"]
        assistant, results = messages[-3], messages[-2:]
        assert assistant["role"] == "assistant", f"{where}: Cohere turn before the results {assistant}"
        sent = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in assistant.get("tool_calls") or []]
        assert sent == [(i, n, a) for i, (_, n, a) in zip(ids, fx.calls)], f"{where}: Cohere assistant tool_calls {sent}"
        assert [(m["role"], m.get("tool_call_id")) for m in results] == [("tool", i) for i in ids], \
            f"{where}: Cohere tool messages {[(m['role'], m.get('tool_call_id')) for m in results]}"
        for message, word in zip(results, RESULT_WORDS):
            assert word in json.dumps(message.get("content")), f"{where}: tool message {message} lost the result"
        if not assistant.get("tool_plan"):
            note(f"{where}: the replayed Cohere assistant turn has no tool_plan")


def tool_round_trip(provider):
    p = PROVIDERS[provider]
    tag = f"{provider}.tools"
    fx, fx2 = p["read"](p["tools"] + ".json"), p["read"](p["plain"] + ".json")
    messages = [QUESTION]
    reply, entries = sdk(tag + ".1", lambda: client.chat.completions.create(
        model=p["model"], messages=messages, tools=[WEATHER], tool_choice="auto", extra_headers=tags(tag + ".1")))
    expect_event(tag + ".1", provider, fx, False)
    entry = one_request(tag + ".1", entries)
    native_path(provider, entry, False, tag + ".1")
    check_tools_sent(tag + ".1", provider, entry["body"], "auto")
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls", f"{tag}.1: finish_reason {reply.choices[0].finish_reason!r}"
    calls = message_calls(message)
    check_calls(tag + ".1", calls, fx)
    if provider == "anthropic":
        assert message.content == fx.text, f"{tag}.1: the text before the tool calls is {message.content!r}, want {fx.text!r}"
    check_usage(tag + ".1", reply.usage, fx)
    TOOL_RESULTS[provider] = calls
    messages.append(message)  # the SDK's own object, as the OpenAI docs do it
    messages += [{"role": "tool", "tool_call_id": c[0], "content": r} for c, r in zip(calls, RESULTS)]
    reply, entries = sdk(tag + ".2", lambda: client.chat.completions.create(
        model=p["model"], messages=messages, tools=[WEATHER], extra_headers=tags(tag + ".2")))
    expect_event(tag + ".2", provider, fx2, False)
    entry = one_request(tag + ".2", entries)
    check_results_sent(tag + ".2", provider, entry["body"], fx, calls)
    assert reply.choices[0].message.content == fx2.text, f"{tag}.2: text {reply.choices[0].message.content!r}, want {fx2.text!r}"
    assert reply.choices[0].finish_reason == "stop", f"{tag}.2: finish_reason {reply.choices[0].finish_reason!r}"
    check_usage(tag + ".2", reply.usage, fx2)


def tool_round_trip_streamed(provider):
    p = PROVIDERS[provider]
    tag = f"{provider}.tools-stream"
    fx, fx2 = p["read"](p["tools"] + ".sse"), p["read"](p["plain"] + ".sse")
    messages = [QUESTION]
    chunks, entries = sdk(tag + ".1", lambda: list(client.chat.completions.create(
        model=p["model"], messages=messages, tools=[WEATHER], tool_choice="required", stream=True,
        stream_options={"include_usage": True}, extra_headers=tags(tag + ".1"))))
    expect_event(tag + ".1", provider, fx, True)
    entry = one_request(tag + ".1", entries)
    native_path(provider, entry, True, tag + ".1")
    check_tools_sent(tag + ".1", provider, entry["body"], "required")
    s = Streamed(tag + ".1", chunks)
    assert s.finish == "tool_calls", f"{tag}.1: finish_reason {s.finish!r}"
    check_calls(tag + ".1", s.calls, fx)
    if provider == "anthropic":
        assert s.text == fx.text, f"{tag}.1: streamed text before the tool calls {s.text!r}, want {fx.text!r}"
    assert s.usage_at == [len(chunks) - 1], f"{tag}.1: usage on chunks {s.usage_at} of {len(chunks)}"
    check_usage(tag + ".1", chunks[-1].usage, fx)
    if provider in TOOL_RESULTS:
        plain_calls = TOOL_RESULTS[provider]
        same = [(c[2], json.loads(c[3])) for c in s.calls] == [(c[2], json.loads(c[3])) for c in plain_calls]
        assert same, f"{tag}.1: streamed calls {s.calls} differ from the non-streamed {plain_calls}"
        if [c[0] for c in s.calls] != [c[0] for c in plain_calls]:
            message = f"{tag}.1: streamed tool-call ids {[c[0] for c in s.calls]} differ from the non-streamed {[c[0] for c in plain_calls]}"
            if all(i is not None for i, _, _ in fx.calls):
                raise AssertionError(message)
            note(message + " (the provider sent no ids; meterr made them)")
    messages.append({"role": "assistant", "content": s.text or None,
                     "tool_calls": [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, _, n, a in s.calls]})
    messages += [{"role": "tool", "tool_call_id": c[0], "content": r} for c, r in zip(s.calls, RESULTS)]
    chunks, entries = sdk(tag + ".2", lambda: list(client.chat.completions.create(
        model=p["model"], messages=messages, tools=[WEATHER], stream=True, extra_headers=tags(tag + ".2"))))
    expect_event(tag + ".2", provider, fx2, True)
    entry = one_request(tag + ".2", entries)
    native_path(provider, entry, True, tag + ".2")
    check_results_sent(tag + ".2", provider, entry["body"], fx, s.calls)
    s2 = Streamed(tag + ".2", chunks)
    assert s2.text == fx2.text, f"{tag}.2: text {s2.text!r}, want {fx2.text!r}"
    assert s2.usage_at == [], f"{tag}.2: usage on chunks {s2.usage_at} though the caller did not ask for it"


SCHEMA = {"name": "weather", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}, "temperature_c": {"type": "integer"}},
    "required": ["city", "temperature_c"], "additionalProperties": False}}


def json_schema(provider):
    p = PROVIDERS[provider]
    tag = f"{provider}.json-schema"
    fx = anthropic_fixture("anthropic-messages-json.json") if provider == "anthropic" else p["read"](p["plain"] + ".json")
    reply, entries = sdk(tag, lambda: client.chat.completions.create(
        model=p["model"], messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format={"type": "json_schema", "json_schema": SCHEMA}, extra_headers=tags(tag)))
    expect_event(tag, provider, fx, False)
    entry = one_request(tag, entries)
    native_path(provider, entry, False, tag)
    body = entry["body"]
    want_keys = set(SCHEMA["schema"]["properties"])
    if provider == "anthropic":
        tools = {t.get("name"): t for t in body.get("tools") or []}
        assert "json_output" in tools, f"{tag}: Anthropic got no json_output tool: {list(tools)}"
        assert set((tools["json_output"].get("input_schema") or {}).get("properties") or {}) == want_keys, \
            f"{tag}: json_output input_schema {tools['json_output'].get('input_schema')}"
        assert body.get("tool_choice") == {"type": "tool", "name": "json_output"}, f"{tag}: tool_choice {body.get('tool_choice')!r}"
        message = reply.choices[0].message
        try:
            parsed = json.loads(message.content or "")
        except ValueError:
            raise AssertionError(f"{tag}: content is not JSON: {message.content!r}") from None
        assert parsed == fx.calls[0][2], f"{tag}: content {parsed}, the json_output input was {fx.calls[0][2]}"
        assert not message.tool_calls, f"{tag}: the synthetic json_output call leaked as tool_calls {message.tool_calls}"
        assert reply.choices[0].finish_reason == "stop", f"{tag}: finish_reason {reply.choices[0].finish_reason!r}, want stop"
    elif provider == "gemini":
        config = camel(camel(body).get("generationConfig") or {})
        assert config.get("responseMimeType") == "application/json", f"{tag}: responseMimeType {config.get('responseMimeType')!r}"
        schema = config.get("responseSchema") or config.get("responseJsonSchema")
        assert isinstance(schema, dict) and set(schema.get("properties") or {}) == want_keys, \
            f"{tag}: Gemini got no responseSchema/responseJsonSchema with {want_keys}: {config}"
        if "responseSchema" not in config:
            note(f"{tag}: the schema went as responseJsonSchema, not responseSchema")
        assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}"
    else:
        fmt = body.get("response_format") or {}
        assert fmt.get("type") == "json_object" and set((fmt.get("json_schema") or {}).get("properties") or {}) == want_keys, \
            f"{tag}: Cohere response_format {fmt}"
        assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}"
    check_usage(tag, reply.usage, fx)


SYSTEM = "Answer in one short sentence."


def system_message(provider):
    p = PROVIDERS[provider]
    tag, fx = f"{provider}.system", p["read"](p["plain"] + ".json")
    reply, entries = sdk(tag, lambda: client.chat.completions.create(
        model=p["model"], messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}],
        max_tokens=200, extra_headers=tags(tag)))
    expect_event(tag, provider, fx, False)
    body = one_request(tag, entries)["body"]
    assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}"
    if provider == "anthropic":
        system = body.get("system")
        text = system if isinstance(system, str) else "".join(b.get("text", "") for b in system or [])
        assert text == SYSTEM, f"{tag}: Anthropic system is {system!r}"
        assert [m["role"] for m in body["messages"]] == ["user"], f"{tag}: Anthropic messages roles {[m['role'] for m in body['messages']]}"
        assert body.get("max_tokens") == 200, f"{tag}: max_tokens {body.get('max_tokens')!r}"
    elif provider == "gemini":
        body = camel(body)
        system = camel(body.get("systemInstruction") or {})
        text = "".join(part.get("text", "") for part in system.get("parts") or [])
        assert text == SYSTEM, f"{tag}: Gemini systemInstruction is {body.get('systemInstruction')!r}"
        assert [camel(c)["role"] for c in body["contents"]] == ["user"], f"{tag}: Gemini contents {body['contents']}"
    else:
        first = body["messages"][0]
        content = first.get("content")
        text = content if isinstance(content, str) else "".join(c.get("text", "") for c in content or [])
        assert first.get("role") == "system" and text == SYSTEM, f"{tag}: Cohere first message {first}"
        assert body.get("max_tokens") == 200, f"{tag}: max_tokens {body.get('max_tokens')!r}"


# A 1×1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def image(provider):
    p = PROVIDERS[provider]
    tag, fx = f"{provider}.image", p["read"](p["plain"] + ".json")
    content = [{"type": "text", "text": "What is in this image?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}}]
    reply, entries = sdk(tag, lambda: client.chat.completions.create(
        model=p["model"], messages=[{"role": "user", "content": content}], extra_headers=tags(tag)))
    expect_event(tag, provider, fx, False)
    body = one_request(tag, entries)["body"]
    assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}"
    if provider == "anthropic":
        blocks = body["messages"][-1]["content"]
        images = [b for b in blocks if isinstance(b, dict) and b.get("type") == "image"]
        want = {"type": "base64", "media_type": "image/png", "data": PNG}
        assert [b.get("source") for b in images] == [want], f"{tag}: Anthropic image blocks {images}"
        assert any(b.get("type") == "text" and b.get("text") == "What is in this image?" for b in blocks), f"{tag}: text part lost: {blocks}"
    else:
        parts = [camel(part) for part in camel(camel(body)["contents"][-1])["parts"]]
        inline = [camel(part["inlineData"]) for part in parts if "inlineData" in part]
        assert inline == [{"mimeType": "image/png", "data": PNG}], f"{tag}: Gemini inlineData parts {inline}"
        assert any(part.get("text") == "What is in this image?" for part in parts), f"{tag}: text part lost: {parts}"


def compatible(provider):
    p = PROVIDERS[provider]
    tag, fx = f"{provider}.compatible", openai_fixture("openai-chat.json", p["bare"])
    reply, entries = sdk(tag, lambda: client.chat.completions.create(
        model=p["model"], messages=[{"role": "user", "content": "hi"}],
        extra_headers=tags(tag, **{"x-meterr-wire": "compatible"})))
    expect_event(tag, provider, fx, False)
    entry = one_request(tag, entries, surface="compatible")
    assert entry["path"] == p["compatible"], f"{tag}: meterr called {entry['path']}, not {p['compatible']}"
    assert entry["body"].get("model") == p["bare"], f"{tag}: model {entry['body'].get('model')!r}"
    assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}"
    check_usage(tag, reply.usage, fx)


def dropped_params():
    p = PROVIDERS["anthropic"]
    tag, fx = "anthropic.dropped", anthropic_fixture("anthropic-messages.json")
    raw, entries = sdk(tag, lambda: client.chat.completions.with_raw_response.create(
        model=p["model"], messages=[{"role": "user", "content": "hi"}], seed=1, presence_penalty=0.5, logprobs=True,
        extra_headers=tags(tag)))
    expect_event(tag, "anthropic", fx, False)
    body = one_request(tag, entries)["body"]
    leaked = {"seed", "presence_penalty", "logprobs"} & set(body)
    assert not leaked, f"{tag}: dropped parameters still went to Anthropic: {leaked}"
    header = raw.headers.get("x-meterr-dropped-params")
    assert header, f"{tag}: no x-meterr-dropped-params header (headers: {dict(raw.headers)})"
    names = {name.strip() for name in header.split(",")}
    assert {"seed", "presence_penalty", "logprobs"} <= names, f"{tag}: x-meterr-dropped-params is {header!r}"
    assert raw.parse().choices[0].message.content == fx.text, f"{tag}: text {raw.parse().choices[0].message.content!r}"


def rejected_params():
    tag = "anthropic.rejected"
    UNMETERED.append(tag)
    mark = len(log_lines())
    try:
        client.chat.completions.create(
            model=PROVIDERS["anthropic"]["model"], messages=[{"role": "user", "content": "hi"}], seed=1,
            extra_headers=tags(tag, **{"x-meterr-unsupported-params": "reject"}))
    except openai.BadRequestError as error:
        body = error.response.json()
        assert isinstance(body.get("error"), dict) and isinstance(body["error"].get("message"), str), \
            f"{tag}: the 400 is not in OpenAI's error shape: {body}"
        assert "seed" in body["error"]["message"], f"{tag}: the 400 does not name seed: {body['error']['message']!r}"
    else:
        raise AssertionError(f"{tag}: seed with x-meterr-unsupported-params: reject was answered, not refused")
    reached = log_lines()[mark:]
    assert not reached, f"{tag}: a refused call still reached the provider: {summary(reached)}"


def upstream_hygiene():
    """No meterr key and no x-meterr-* header ever reached a provider."""
    for entry in log_lines():
        for name, value in entry["headers"].items():
            assert KEY not in value, f"the meterr key reached the provider in {name} on {entry['path']}"
            assert not name.startswith("x-meterr-"), f"meterr's own header {name} reached the provider on {entry['path']}"


# ---------------------------------------------------------------- the router
# The virtual models run.sh configures: fast (anthropic, then gemini), steady (cohere, then gemini), every
# (anthropic, gemini, cohere) and pricey (the cheaper of anthropic and cohere, meterr/auto's demanding
# tiers). fake_native.py fails a provider on request (x-fake-fail). The checks run in order: the 429 of
# routed_fallback opens anthropic's breaker for 30 s, which routed_breaker and routed_explain see.

SONNET, FLASH, COMMAND = "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash", "cohere/command-a-03-2025"
ROUTED = {}  # tag: (request id, attempts) of every routed call, for the ledger pass at the end


def admin(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def attempt_number(event):
    for word in (event.get("route") or "").split():
        if word.startswith("attempt="):
            return int(word[8:])
    return 0


def call_events(request_id, count):
    """The ledger's events of one call, first attempt first, once `count` are in (at most ten seconds),
    then once more a moment later, so an extra event shows."""
    deadline, settled = time.time() + 10, False
    while True:
        events = [e for e in admin("GET", "/api/usage/events?limit=200")["events"] if e.get("request_id") == request_id]
        if len(events) >= count:
            if settled:
                break
            settled = True
            time.sleep(0.3)
            continue
        if time.time() > deadline:
            break
        time.sleep(0.25)
    return sorted(events, key=attempt_number)


def check_attempts(where, tag, request_id, want):
    """want, per attempt in order: (provider, status, route, Expect of a served attempt or None, stream).
    `route` is the event's route up to the optional baseline=/saved_usd= words."""
    assert request_id, f"{where}: the answer has no x-meterr-request-id"
    ROUTED[tag] = (request_id, len(want))
    events = call_events(request_id, len(want))
    described = [(e.get("provider"), e.get("status"), e.get("route")) for e in events]
    assert len(events) == len(want), f"{where}: want {len(want)} events with request id {request_id}, found {len(events)}: {described}"
    for n, (event, (provider, status, route, fx, stream)) in enumerate(zip(events, want), 1):
        at = f"{where}: attempt {n} event"
        assert (event.get("provider"), event.get("status")) == (provider, status), \
            f"{at} is {provider} {status}? got {event.get('provider')} {event.get('status')} (all: {described})"
        got_route = event.get("route") or ""
        assert got_route == route or got_route.startswith(route + " baseline="), f"{at}: route {got_route!r}, want {route!r}"
        assert (event.get("tags") or {}).get("check") == tag, f"{at}: tags {event.get('tags')} (the call's x-meterr-tags)"
        if fx is None:
            metered = {k: event.get(k) for k in ("input_tokens", "output_tokens") if event.get(k)}
            assert not metered, f"{at}: a failed attempt used nothing, yet the event has {metered}"
            assert event.get("cost_usd") in (None, "0", "0.000000000"), f"{at}: a failed attempt costs {event.get('cost_usd')}"
        else:
            try:
                ledger_event(event, provider, fx, stream)
            except AssertionError as error:
                raise AssertionError(f"{at}: {error}") from None
    return events


def failed_upstream(where, entries, want):
    """The native requests a call caused: want is [(provider, status)] in order, the failures injected."""
    got = [(e.get("provider"), e["status"]) for e in entries]
    assert got == want, f"{where}: the fake saw {got}, want {want}: {summary(entries)}"
    for entry, (_, status) in zip(entries, want):
        assert entry["surface"] == "native", f"{where}: meterr called {entry['path']}, not the native surface"
        if status != 200:
            assert entry.get("injected"), f"{where}: {entry['path']} failed by itself, not by x-fake-fail: {entry['error']}"


def routed_first():
    """A virtual model's call goes to its first deployment, translated to its native API."""
    tag, fx = "routed.fast", anthropic_fixture("anthropic-messages.json")
    raw, entries = sdk(tag, lambda: client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hi"}], extra_headers=tags(tag)))
    route = raw.headers.get("x-meterr-route")
    assert route == f"fast; deployment={SONNET}; attempt=1", f"{tag}: x-meterr-route {route!r}"
    entry = one_request(tag, entries)
    assert entry["provider"] == "anthropic" and entry["path"] == "/v1/messages", f"{tag}: meterr called {entry['path']}"
    assert entry["body"].get("model") == "claude-sonnet-4-5", f"{tag}: the native body names {entry['body'].get('model')!r}"
    reply = raw.parse()
    assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}"
    check_usage(tag, reply.usage, fx)
    check_attempts(tag, tag, raw.headers.get("x-meterr-request-id"),
                   [("anthropic", 200, f"fast:{SONNET} policy=priority attempt=1", fx, False)])


def routed_context():
    """anthropic answers its "prompt is too long" 400: the call moves on to gemini, and the breaker
    does not count it against anthropic (another deployment's window may be larger)."""
    tag, fx = "routed.fast-context", gemini_fixture("gemini-generate.json")
    raw, entries = sdk(tag, lambda: client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hi"}],
        extra_headers=tags(tag, **{"x-fake-fail": "anthropic=context"})))
    route = raw.headers.get("x-meterr-route")
    assert route == f"fast; deployment={FLASH}; attempt=2", f"{tag}: x-meterr-route {route!r}"
    failed_upstream(tag, entries, [("anthropic", 400), ("gemini", 200)])
    assert raw.parse().choices[0].message.content == fx.text, f"{tag}: text {raw.parse().choices[0].message.content!r}"
    check_attempts(tag, tag, raw.headers.get("x-meterr-request-id"), [
        ("anthropic", 400, f"fast:{SONNET} policy=priority attempt=1", None, False),
        ("gemini", 200, f"fast:{FLASH} policy=priority attempt=2 after={SONNET}:context_length", fx, False)])
    sonnet = {d["id"]: d for d in admin("GET", "/api/routes/health")["deployments"]}.get(SONNET) or {}
    got = (sonnet.get("state"), sonnet.get("last_failure"), sonnet.get("consecutive_failures"))
    assert got == ("closed", "context_length", 0), f"{tag}: {SONNET} health {sonnet}, want closed, context_length, 0 failures in a row"


def routed_fallback():
    """anthropic answers 429: the call moves on to gemini before anything reached the caller, both
    attempts are metered under the call's request id, and anthropic's breaker opens."""
    tag, fx = "routed.fast-429", gemini_fixture("gemini-generate.json")
    started = time.time()
    raw, entries = sdk(tag, lambda: client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hi"}],
        extra_headers=tags(tag, **{"x-fake-fail": "anthropic=429"})))
    route = raw.headers.get("x-meterr-route")
    assert route == f"fast; deployment={FLASH}; attempt=2", f"{tag}: x-meterr-route {route!r}"
    failed_upstream(tag, entries, [("anthropic", 429), ("gemini", 200)])
    native_path("gemini", entries[1], False, tag)
    reply = raw.parse()
    assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}, want {fx.text!r}"
    check_usage(tag, reply.usage, fx)
    cost, want = raw.headers.get("x-meterr-cost-usd"), expected_cost("gemini", fx.model, fx)
    assert cost is not None and abs(Decimal(cost) - want) <= Decimal("0.000000001"), f"{tag}: x-meterr-cost-usd {cost}, want {want}"
    check_attempts(tag, tag, raw.headers.get("x-meterr-request-id"), [
        ("anthropic", 429, f"fast:{SONNET} policy=priority attempt=1", None, False),
        ("gemini", 200, f"fast:{FLASH} policy=priority attempt=2 after={SONNET}:rate_limited", fx, False)])
    health = {d["id"]: d for d in admin("GET", "/api/routes/health")["deployments"]}
    sonnet = health.get(SONNET)
    assert sonnet, f"{tag}: /api/routes/health does not list {SONNET}: {list(health)}"
    assert (sonnet.get("state"), sonnet.get("last_failure")) == ("open", "rate_limited"), \
        f"{tag}: {SONNET} health is {sonnet}, want state open, last_failure rate_limited"
    until = sonnet.get("open_until")
    assert until, f"{tag}: an open breaker with no open_until: {sonnet}"
    opened_for = calendar.timegm(time.strptime(until[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + until[19:].rstrip("Z")) - started
    assert opened_for >= 29, f"{tag}: open_until {until} is {opened_for:.1f} s after the call; a rate limit opens it for at least 30 s"
    assert health.get(FLASH, {}).get("state") == "closed", f"{tag}: {FLASH} health is {health.get(FLASH)}"


def routed_breaker():
    """With anthropic's breaker open, the next call to fast goes straight to gemini: attempt 1, and no
    request reaches anthropic."""
    tag, fx = "routed.fast-breaker", gemini_fixture("gemini-generate.json")
    raw, entries = sdk(tag, lambda: client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hi"}], extra_headers=tags(tag)))
    reached = [e["path"] for e in entries if e.get("provider") == "anthropic"]
    assert not reached, f"{tag}: anthropic's breaker is open, yet meterr called it: {reached}"
    route = raw.headers.get("x-meterr-route")
    assert route == f"fast; deployment={FLASH}; attempt=1", f"{tag}: x-meterr-route {route!r}"
    native_path("gemini", one_request(tag, entries), False, tag)
    reply = raw.parse()
    assert reply.choices[0].message.content == fx.text, f"{tag}: text {reply.choices[0].message.content!r}"
    check_attempts(tag, tag, raw.headers.get("x-meterr-request-id"),
                   [("gemini", 200, f"fast:{FLASH} policy=priority attempt=1", fx, False)])


def routed_stream():
    """A streamed call whose first deployment (cohere) answers 500 streams the second's (gemini's) text,
    usage chunk last, then [DONE]."""
    tag, fx = "routed.steady-stream", gemini_fixture("gemini-generate.sse")

    def run():
        with client.chat.completions.with_streaming_response.create(
                model="steady", messages=[{"role": "user", "content": "hi"}], stream=True,
                stream_options={"include_usage": True}, extra_headers=tags(tag, **{"x-fake-fail": "cohere=500"})) as response:
            return response.headers, list(response.iter_lines())
    (headers, lines), entries = sdk(tag, run)
    assert headers.get("content-type", "").startswith("text/event-stream"), f"{tag}: content-type {headers.get('content-type')!r}"
    route = headers.get("x-meterr-route")
    assert route == f"steady; deployment={FLASH}; attempt=2", f"{tag}: x-meterr-route {route!r}"
    failed_upstream(tag, entries, [("cohere", 500), ("gemini", 200)])
    native_path("gemini", entries[1], True, tag)
    data = [line[5:].strip() for line in lines if line.strip()]
    assert data and data[-1] == "[DONE]", f"{tag}: the stream does not end with data: [DONE] (last: {data[-1:]!r})"
    assert "[DONE]" not in data[:-1], f"{tag}: [DONE] before the end"
    payloads = [json.loads(d) for d in data[:-1]]
    assert not any("error" in p_ for p_ in payloads), f"{tag}: the stream carries an error: {[p_ for p_ in payloads if 'error' in p_]}"
    chunks = [openai.types.chat.ChatCompletionChunk.model_validate(p_) for p_ in payloads]
    s = Streamed(tag, chunks)
    assert s.text == fx.text, f"{tag}: streamed text {s.text!r}, gemini's is {fx.text!r}"
    assert s.finish == fx.finish, f"{tag}: finish_reason {s.finish!r}, want {fx.finish!r}"
    assert s.usage_at == [len(chunks) - 1], f"{tag}: usage on chunks {s.usage_at} of {len(chunks)}"
    check_usage(tag, chunks[-1].usage, fx)
    check_attempts(tag, tag, headers.get("x-meterr-request-id"), [
        ("cohere", 500, f"steady:{COMMAND} policy=priority attempt=1", None, None),
        ("gemini", 200, f"steady:{FLASH} policy=priority attempt=2 after={COMMAND}:server_error", fx, True)])


def routed_all_fail():
    """Every deployment fails: the last provider's answer goes back (its status, OpenAI's error shape),
    and each attempt left its event."""
    tag = "routed.every-fails"
    health = {d["id"]: d.get("state") for d in admin("GET", "/api/routes/health")["deployments"]}
    shut = [d for d in (SONNET, FLASH, COMMAND) if health.get(d) != "closed"]
    assert not shut, f"{tag}: runs with every breaker closed, but {shut} are not: {health}"
    mark = len(log_lines())
    try:
        client.chat.completions.create(
            model="every", messages=[{"role": "user", "content": "hi"}],
            extra_headers=tags(tag, **{"x-fake-fail": "anthropic=500,gemini=500,cohere=500"}))
    except openai.InternalServerError as error:
        response = error.response
    except openai.APIStatusError as error:
        raise AssertionError(f"{tag}: meterr answered {error.status_code} {error.message!r}, want 500 "
                             f"(the last provider's status); the fake saw: {summary(log_lines()[mark:])}") from None
    else:
        raise AssertionError(f"{tag}: every deployment failed, yet the call was answered: {summary(log_lines()[mark:])}")
    entries = log_lines()[mark:]
    failed_upstream(tag, entries, [("anthropic", 500), ("gemini", 500), ("cohere", 500)])
    body = response.json()
    assert isinstance(body.get("error"), dict) and isinstance(body["error"].get("message"), str), \
        f"{tag}: the 500 is not in OpenAI's error shape: {body}"
    assert body["error"]["message"] == entries[-1]["error"], \
        f"{tag}: the answer says {body['error']['message']!r}, the last provider (cohere) said {entries[-1]['error']!r}"
    route = response.headers.get("x-meterr-route")
    assert route == f"every; deployment={COMMAND}; attempt=3", f"{tag}: x-meterr-route {route!r}"
    check_attempts(tag, tag, response.headers.get("x-meterr-request-id"), [
        ("anthropic", 500, f"every:{SONNET} policy=priority attempt=1", None, False),
        ("gemini", 500, f"every:{FLASH} policy=priority attempt=2 after={SONNET}:server_error", None, False),
        ("cohere", 500, f"every:{COMMAND} policy=priority attempt=3 after={SONNET}:server_error,{FLASH}:server_error",
         None, False)])


REASONING = ("Think carefully and reason through this step by step. First, prove that every bounded monotone "
             "sequence of real numbers converges, then derive the rate of convergence for the sequence defined by "
             "x(n+1) = (x(n) + 2 / x(n)) / 2. Finally, analyze the trade-off between Newton's method and bisection "
             "for computing square roots, and evaluate which one a numerical library should use by default. ")


def routed_explain():
    """meterr/auto with a long reasoning prompt: the decision names pricey and its candidates, with no
    call made."""
    tag = "routed.explain"
    health = {d["id"]: d.get("state") for d in admin("GET", "/api/routes/health")["deployments"]}
    mark = len(log_lines())
    answer = admin("POST", "/api/route/explain", {"model": "meterr/auto", "messages": [
        {"role": "system", "content": "You are a careful mathematician."},
        {"role": "user", "content": REASONING * 6}]})
    reached = log_lines()[mark:]
    assert not reached, f"{tag}: explaining a call made one: {summary(reached)}"
    got = (answer.get("requested"), answer.get("route"), answer.get("policy"), answer.get("tier"))
    assert got == ("meterr/auto", "pricey", "cheapest", "reasoning"), \
        f"{tag}: (requested, route, policy, tier) {got}, signals {answer.get('signals')}"
    tokens = answer.get("input_tokens")
    assert isinstance(tokens, int) and tokens > 400, f"{tag}: input_tokens {tokens!r} for a long prompt"
    candidates = {c["deployment"]: c for c in answer.get("candidates") or []}
    assert set(candidates) == {SONNET, COMMAND}, f"{tag}: candidates {list(candidates)}, pricey lists {SONNET} and {COMMAND}"
    for deployment, candidate in candidates.items():
        if health.get(deployment) == "open":
            assert not candidate["eligible"] and "breaker" in (candidate.get("excluded") or ""), \
                f"{tag}: {deployment}'s breaker is open, yet it is a candidate: {candidate}"
        else:
            assert candidate["eligible"] and candidate.get("expected_cost_usd"), f"{tag}: {deployment} not eligible: {candidate}"
    # cohere never served a routed call: its expected cost is the prompt and 256 output tokens at the catalog's prices.
    cohere = candidates[COMMAND]
    assert cohere.get("expected_output_tokens") == 256, f"{tag}: {COMMAND} expects {cohere.get('expected_output_tokens')} output tokens"
    want = expected_cost("cohere", "command-a-03-2025", Expect("explain", model=None, text="", calls=[], finish=None,
                                                                prompt=tokens, completion=256))
    assert Decimal(cohere["expected_cost_usd"]) == want, f"{tag}: {COMMAND} expected_cost_usd {cohere['expected_cost_usd']}, the catalog gives {want}"
    eligible = [c for c in answer["candidates"] if c["eligible"]]
    assert eligible and answer.get("chosen") == min(eligible, key=lambda c: Decimal(c["expected_cost_usd"]))["deployment"], \
        f"{tag}: chosen {answer.get('chosen')!r}, the cheapest eligible candidate of {answer['candidates']}"
    assert answer["candidates"][:len(eligible)] == eligible, f"{tag}: the eligible candidates do not come first"


def routed_unknown():
    tag = "routed.unknown"
    UNMETERED.append(tag)
    mark = len(log_lines())
    try:
        client.chat.completions.create(model="meterr/nope", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers=tags(tag))
    except openai.BadRequestError as error:
        assert "not a virtual model" in error.message, f"{tag}: the 400 says {error.message!r}"
    else:
        raise AssertionError(f"{tag}: meterr/nope, no virtual model, was answered")
    reached = log_lines()[mark:]
    assert not reached, f"{tag}: a refused call reached a provider: {summary(reached)}"


# ---------------------------------------------------------------- the ledger

def ledger_events():
    """The ledger, once every registered call's event is in it (at most ten seconds)."""
    deadline = time.time() + 10
    while True:
        request = urllib.request.Request(f"{BASE}/api/usage/events?limit=200", headers={"Authorization": f"Bearer {KEY}"})
        events = json.load(urllib.request.urlopen(request, timeout=10))["events"]
        seen = {(e.get("tags") or {}).get("check") for e in events}
        if all(tag in seen for tag in LEDGER) or time.time() > deadline:
            return events
        time.sleep(0.25)


def ledger_call(by_tag, tag, provider, fx, stream):
    found = by_tag.get(tag, [])
    assert len(found) == 1, f"want exactly one event, found {len(found)}"
    ledger_event(found[0], provider, fx, stream)


def ledger_event(e, provider, fx, stream):
    """One event against the fixture's numbers and the catalog's price."""
    got = {k: e.get(k) for k in ("provider", "model", "input_tokens", "output_tokens", "cache_read_tokens",
                                 "cache_write_tokens", "cache_write_1h_tokens", "usage_source", "stream")}
    want = {"provider": provider, "model": fx.model, "input_tokens": fx.prompt, "output_tokens": fx.completion,
            "cache_read_tokens": fx.cached, "cache_write_tokens": fx.write5m, "cache_write_1h_tokens": fx.write1h,
            "usage_source": "reported", "stream": stream}
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"(got, want) {wrong} [{fx}]"
    if provider == "gemini":
        assert e.get("reasoning_tokens") == fx.reasoning, f"reasoning_tokens {e.get('reasoning_tokens')}, want {fx.reasoning} (thoughtsTokenCount)"
    cost = expected_cost(provider, fx.model, fx)
    if cost is None:
        assert e.get("cost_usd") is None, f"cost_usd {e.get('cost_usd')} for a model the catalog does not price"
    else:
        assert e.get("cost_usd") is not None, f"cost_usd is null; the catalog prices {provider}/{fx.model} at {cost}"
        assert abs(Decimal(e["cost_usd"]) - cost) <= Decimal("0.000000001"), f"cost_usd {e['cost_usd']}, the catalog gives {cost}"


def ledger_unmetered(by_tag, tag):
    metered = [e for e in by_tag.get(tag, []) if e.get("input_tokens") or e.get("output_tokens")]
    assert not metered, f"a call meterr refused itself left metered events: {metered}"


def ledger_routed(by_tag, tag, request_id, count):
    """Every event of a routed call carries its tag and its request id, one per attempt."""
    found = by_tag.get(tag, [])
    ids = {e.get("request_id") for e in found}
    assert len(found) == count and ids == {request_id}, \
        f"want {count} events of request {request_id}, found {len(found)} of {ids}: {[e.get('route') for e in found]}"


def ledger_strays(events):
    stray = [e for e in events if (e.get("tags") or {}).get("check") not in ATTEMPTED]
    assert not stray, f"{len(stray)} events of no call made here: {[(e.get('tags'), e.get('model')) for e in stray][:5]}"


# ---------------------------------------------------------------- run

def main():
    for name in ("METERR_URL", "METERR_ADMIN_KEY", "FAKE_NATIVE_LOG"):
        if not os.environ.get(name):  # noqa: the defaults above only let the module be imported
            sys.exit(f"unified_sdks.py needs {name}")
    for provider in PROVIDERS:
        check(f"{provider}: plain call, params and native request", plain, provider)
        check(f"{provider}: stream with include_usage", stream_with_usage, provider)
        check(f"{provider}: raw stream framing ([DONE] after the usage chunk)", stream_raw, provider)
        check(f"{provider}: stream without include_usage", stream_without_usage, provider)
        check(f"{provider}: tool round trip", tool_round_trip, provider)
        check(f"{provider}: streamed tool round trip", tool_round_trip_streamed, provider)
        check(f"{provider}: json_schema response_format", json_schema, provider)
        check(f"{provider}: system message", system_message, provider)
        if provider != "cohere":
            check(f"{provider}: image by data URL", image, provider)
        check(f"{provider}: x-meterr-wire: compatible", compatible, provider)
    check("anthropic: unsupported params dropped and named", dropped_params)
    check("anthropic: unsupported params rejected on request", rejected_params)
    check("router: a virtual model's first deployment serves", routed_first)
    check("router: a prompt too long for the first deployment falls back, its breaker untouched", routed_context)
    check("router: every deployment failing answers the last failure, one event per attempt", routed_all_fail)
    check("router: a 429 falls back to the next deployment and opens its breaker", routed_fallback)
    check("router: an open breaker sends the next call straight on", routed_breaker)
    check("router: a streamed call falls back before its first byte", routed_stream)
    check("router: /api/route/explain for meterr/auto", routed_explain)
    check("router: meterr/ naming no virtual model is a 400", routed_unknown)
    check("upstream requests carry no meterr key or x-meterr-* header", upstream_hygiene)

    # Each answered call left exactly one event with the fixture's numbers; a call that failed
    # before registering its event is already reported, and its event (if any) is not a stray.
    try:
        events = ledger_events()
    except OSError as error:
        failures.append("ledger")
        print(f"FAIL  ledger: GET {BASE}/api/usage/events failed: {error}")
        events = []
    by_tag = {}
    for event in events:
        by_tag.setdefault((event.get("tags") or {}).get("check"), []).append(event)
    for tag, (provider, fx, stream) in LEDGER.items():
        check(f"ledger {tag}", ledger_call, by_tag, tag, provider, fx, stream)
    for tag in UNMETERED:
        check(f"ledger {tag} (refused by meterr)", ledger_unmetered, by_tag, tag)
    for tag, (request_id, count) in ROUTED.items():
        check(f"ledger {tag} (routed, {count} attempts)", ledger_routed, by_tag, tag, request_id, count)
    check("ledger holds no event of an unknown call", ledger_strays, events)
    print(f"unified-check: {len(passed)} passed, {len(failures)} failed, {len(notes)} notes")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
