"""The official OpenAI and Anthropic SDKs against `meterr serve --tls-cert/--tls-key` with a private
certificate authority: trusted through the CA, refused without it. Exits non-zero on any failure."""
import json
import os
import ssl
import sys
import urllib.request

import anthropic
import openai

BASE = os.environ["METERR_URL"]
KEY = os.environ["METERR_ADMIN_KEY"]
CA = os.environ["METERR_CA"]
failures, passed = [], []


def check(name, fn):
    try:
        fn()
        passed.append(name)
        print(f"ok    {name}")
    except Exception as error:  # noqa: BLE001 - report every failure, keep going
        failures.append(name)
        print(f"FAIL  {name}: {type(error).__name__}: {error}")


def openai_over_tls():
    client = openai.OpenAI(base_url=f"{BASE}/openai/v1", api_key=KEY, http_client=openai.DefaultHttpxClient(verify=CA))
    reply = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.prompt_tokens == 1200, reply.usage
    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"


def anthropic_over_tls():
    client = anthropic.Anthropic(base_url=f"{BASE}/anthropic", api_key=KEY, http_client=anthropic.DefaultHttpxClient(verify=CA))
    reply = client.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.cache_read_input_tokens == 10000


def untrusted_is_refused():
    client = openai.OpenAI(base_url=f"{BASE}/openai/v1", api_key=KEY, max_retries=0)
    try:
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    except openai.APIConnectionError as error:
        assert "CERTIFICATE_VERIFY_FAILED" in repr(error.__cause__) or "certificate" in repr(error.__cause__).lower()
        return
    raise AssertionError("a client without the private CA connected")


def recorded_and_hsts():
    context = ssl.create_default_context(cafile=CA)
    request = urllib.request.Request(f"{BASE}/api/usage/events?limit=100", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, context=context) as response:
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        events = json.load(response)["events"]
    models = sorted(event["model"] for event in events)
    assert models == ["claude-sonnet-4-5-20250929", "gpt-4.1-2025-04-14", "gpt-4.1-2025-04-14"], models
    assert all(event["cost_usd"] is not None for event in events)


check("openai over TLS", openai_over_tls)
check("anthropic over TLS", anthropic_over_tls)
check("a client without the CA is refused", untrusted_is_refused)
check("every call recorded, HSTS over TLS", recorded_and_hsts)
print(f"tls-check: {len(passed)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
