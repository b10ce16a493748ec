"""Drives a running meterr with the official SDKs, streaming and not, then checks every recorded
usage event against the recorded provider responses. Exits non-zero on any failure."""
import json
import os
import sys
import time
import urllib.request

BASE = os.environ["METERR_URL"]
KEY = os.environ["METERR_ADMIN_KEY"]
failures = []
passed = []


def check(name, fn):
    try:
        fn()
        passed.append(name)
        print(f"ok    {name}")
    except Exception as error:  # noqa: BLE001 - report every SDK failure, keep going
        failures.append(name)
        print(f"FAIL  {name}: {type(error).__name__}: {error}")


def openai_calls():
    import openai
    client = openai.OpenAI(base_url=f"{BASE}/openai/v1", api_key=KEY, default_headers={"x-meterr-team": "sdk"})
    reply = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.prompt_tokens == 1200, reply.usage
    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello!", text
    assert all(c.usage is None for c in chunks), "the usage chunk meterr asked for must be stripped"
    emb = client.embeddings.create(model="text-embedding-3-small", input="hi", encoding_format="float")
    assert emb.usage.prompt_tokens == 5


def azure_calls():
    import openai
    client = openai.AzureOpenAI(azure_endpoint=f"{BASE}/azure", api_key=KEY, api_version="2024-10-21")
    reply = client.chat.completions.create(model="prod-gpt41", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.prompt_tokens == 1200, reply.usage


def openai_unified():
    import openai
    client = openai.OpenAI(base_url=f"{BASE}/v1", api_key=KEY)
    events = list(client.responses.create(model="gpt-4.1", input="hi", stream=True))
    assert events[-1].type == "response.completed", events[-1].type


def anthropic_calls():
    import anthropic
    client = anthropic.Anthropic(base_url=f"{BASE}/anthropic", api_key=KEY)
    reply = client.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.cache_read_input_tokens == 10000
    with client.messages.stream(model="claude-sonnet-4-5-20250929", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join(stream.text_stream)
    assert text == "Hello! How can I help?", text


def gemini_calls():
    from google import genai
    from google.genai import types
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=f"{BASE}/gemini"))
    reply = client.models.generate_content(model="gemini-2.5-pro", contents="hi")
    assert reply.usage_metadata.prompt_token_count == 250000
    text = "".join(c.text or "" for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    assert text == "Hello! How can I help?", text


def mistral_calls():
    try:
        from mistralai import Mistral
    except ImportError:  # mistralai 3.x moved the client
        from mistralai.client import Mistral
    client = Mistral(api_key=KEY, server_url=f"{BASE}/mistral")
    reply = client.chat.complete(model="mistral-medium-2508", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.prompt_tokens == 10
    text = "".join(e.data.choices[0].delta.content or "" for e in client.chat.stream(model="mistral-medium-2508", messages=[{"role": "user", "content": "hi"}]))
    assert text == "Bonjour !", text


def cohere_calls():
    import cohere
    client = cohere.ClientV2(api_key=KEY, base_url=f"{BASE}/cohere")
    reply = client.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.billed_units.input_tokens == 21
    text = "".join(e.delta.message.content.text for e in client.chat_stream(model="command-a-03-2025", messages=[{"role": "user", "content": "hi"}]) if e.type == "content-delta")
    assert text == "Coca-Cola.", text


def refusals():
    """Calls meterr answers itself raise each SDK's own error class, with meterr's message."""
    import anthropic
    import openai
    client = openai.OpenAI(base_url=f"{BASE}/openai/v1", api_key=KEY, max_retries=0)
    try:
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi")
        raise AssertionError("an unmetered call was forwarded")
    except openai.NotFoundError as error:
        assert "does not forward" in str(error), error
    try:
        client.chat.completions.create(model="", messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("a call without a model was forwarded")
    except openai.BadRequestError as error:
        assert "names no model" in str(error), error
    claude = anthropic.Anthropic(base_url=f"{BASE}/anthropic", api_key=KEY, max_retries=0)
    try:
        claude.messages.batches.create(requests=[])
        raise AssertionError("an unmetered batch was forwarded")
    except anthropic.NotFoundError as error:
        assert "does not forward" in str(error), error


for name, fn in [("openai", openai_calls), ("azure", azure_calls), ("openai unified /v1", openai_unified), ("anthropic", anthropic_calls),
                 ("google-genai", gemini_calls), ("mistralai", mistral_calls), ("cohere", cohere_calls),
                 ("refusals in each SDK's error class", refusals)]:
    check(name, fn)

# The ledger must hold every call with the provider's numbers.
expected = {  # model: (input, output, cost)
    "gpt-4.1-2025-04-14": [(1200, 8, "0.000928000"), (1200, 8, "0.000928000"), (12, 2, "0.000040000"),
                           (9, 3, "0.000042000")],
    "text-embedding-3-small": [(5, 0, "0.000000100")],
    "claude-sonnet-4-5-20250929": [(12060, 11, "0.010881000"), (12, 9, "0.000171000")],
    "gemini-2.5-pro": [(250000, 129, "0.176935000")],
    "gemini-2.5-flash": [(8, 54, None)],
    "mistral-medium-2508": [(10, 4, None), (10, 4, None)],
    "command-a-03-2025": [(21, 9, "0.000142500"), (21, 4, None)],
}
time.sleep(0.5)
request = urllib.request.Request(f"{BASE}/api/usage/events?limit=100", headers={"Authorization": f"Bearer {KEY}"})
events = json.load(urllib.request.urlopen(request))["events"]
seen = {}
for event in events:
    seen.setdefault(event["model"], []).append((event["input_tokens"], event["output_tokens"], event["cost_usd"]))
    if event["usage_source"] != "reported":
        failures.append(f"event {event['id']} is {event['usage_source']}")
for model, calls in expected.items():
    got = sorted(seen.get(model, []), key=lambda c: (c[0], c[1]))
    want = sorted(calls, key=lambda c: (c[0], c[1]))
    ok = len(got) == len(want) and all(g[:2] == w[:2] and (w[2] is None or g[2] == w[2]) and g[2] is not None
                                       for g, w in zip(got, want))
    print(f"{'ok   ' if ok else 'FAIL '} ledger {model}: {got}")
    (passed if ok else failures).append(f"ledger {model}")
print(f"sdk-check: {len(passed)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
