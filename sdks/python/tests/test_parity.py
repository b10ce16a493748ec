"""Every metered surface, sync and async: an instrumented client calling the fake provider directly
reports exactly the fixture's token counts, and meterr prices the event exactly as it prices the
same call made through its gateway; the app sees exactly what an app behind the gateway sees."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict

import anthropic
import openai
import pytest

import meterr
from helpers import expected_usage, facts, only, usage_of

MESSAGES = [{"role": "user", "content": "hi"}]
CLAUDE = "claude-sonnet-4-5-20250929"


def seen(value: Any) -> Any:
    """What the app got, as plain data: SDK models dumped, lists of them item by item."""
    if isinstance(value, list):
        return [seen(item) for item in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


@dataclass(frozen=True)
class Case:
    name: str
    provider: str
    call: Callable[[Any], Any]
    acall: Callable[[Any], Awaitable[Any]]
    endpoint: str
    stream: bool
    usage: Dict[str, Any]
    #: The provider's request id header when the SDK exposes it, else the response id.
    upstream_request_id: str


async def _alist(stream: Any) -> list:
    return [item async for item in await stream]


def _helper_text(client: Any) -> str:
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=MESSAGES) as stream:
        return "".join(stream.text_stream)


async def _ahelper_text(client: Any) -> str:
    async with client.messages.stream(model=CLAUDE, max_tokens=64, messages=MESSAGES) as stream:
        return "".join([text async for text in stream.text_stream])


CASES = [
    Case(
        "chat",
        "openai",
        lambda c: c.chat.completions.create(model="gpt-4.1", messages=MESSAGES),
        lambda c: c.chat.completions.create(model="gpt-4.1", messages=MESSAGES),
        "chat.completions",
        False,
        # 176 uncached at $2/M, 1,024 cached at $0.50/M, 8 out at $8/M.
        expected_usage("gpt-4.1-2025-04-14", "0.000928000", input_tokens=1200, cache_read_tokens=1024, output_tokens=8),
        "fake-openai-chat",
    ),
    Case(
        "chat stream",
        "openai",
        lambda c: list(c.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)),
        lambda c: _alist(c.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)),
        "chat.completions",
        True,
        expected_usage("gpt-4.1-2025-04-14", "0.000040000", input_tokens=12, output_tokens=2),
        "fake-openai-chat",
    ),
    Case(
        "responses",
        "openai",
        lambda c: c.responses.create(model="o4-mini", input="hi"),
        lambda c: c.responses.create(model="o4-mini", input="hi"),
        "responses",
        False,
        # 10 in at $1.10/M, 25 out (19 of them reasoning) at $4.40/M.
        expected_usage("o4-mini-2025-04-16", "0.000121000", input_tokens=10, output_tokens=25, reasoning_tokens=19),
        "fake-openai-responses",
    ),
    Case(
        "responses stream",
        "openai",
        lambda c: list(c.responses.create(model="gpt-4.1", input="hi", stream=True)),
        lambda c: _alist(c.responses.create(model="gpt-4.1", input="hi", stream=True)),
        "responses",
        True,
        expected_usage("gpt-4.1-2025-04-14", "0.000042000", input_tokens=9, output_tokens=3),
        "fake-openai-responses",
    ),
    Case(
        "embeddings",
        "openai",
        lambda c: c.embeddings.create(model="text-embedding-3-small", input="hi", encoding_format="float"),
        lambda c: c.embeddings.create(model="text-embedding-3-small", input="hi", encoding_format="float"),
        "embeddings",
        False,
        expected_usage("text-embedding-3-small", "0.000000100", input_tokens=5),
        "fake-openai-embeddings",
    ),
    Case(
        "messages",
        "anthropic",
        lambda c: c.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES),
        lambda c: c.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES),
        "messages",
        False,
        # 12 uncached + 10,000 cache reads + 2,048 5-minute cache writes; $0.010881 on Sonnet 4.5.
        expected_usage(
            CLAUDE, "0.010881000", input_tokens=12060, cache_read_tokens=10000, cache_write_tokens=2048, output_tokens=11
        ),
        # The anthropic SDK exposes only its own `request-id` header on a whole answer; the fake
        # provider sends `x-request-id`, so the message id stands in.
        "msg_mock001",
    ),
    Case(
        "messages stream",
        "anthropic",
        lambda c: list(c.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES, stream=True)),
        lambda c: _alist(c.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES, stream=True)),
        "messages",
        True,
        expected_usage(CLAUDE, "0.000171000", input_tokens=12, output_tokens=9),
        "fake-anthropic-messages",
    ),
    Case(
        "messages.stream helper",
        "anthropic",
        _helper_text,
        _ahelper_text,
        "messages",
        True,
        expected_usage(CLAUDE, "0.000171000", input_tokens=12, output_tokens=9),
        "fake-anthropic-messages",
    ),
]


def direct_client(provider: str, fake_url: str, asynchronous: bool) -> Any:
    if provider == "openai":
        kind = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        return kind(base_url=fake_url + "/v1", api_key="sk-test", max_retries=0)
    kind = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
    return kind(base_url=fake_url, api_key="sk-ant-test", max_retries=0)


def gateway_client(provider: str, server: Any, run: str, asynchronous: bool) -> Any:
    helpers = {
        ("openai", False): meterr.openai_client,
        ("openai", True): meterr.async_openai_client,
        ("anthropic", False): meterr.anthropic_client,
        ("anthropic", True): meterr.async_anthropic_client,
    }
    return helpers[provider, asynchronous](server.url, server.key, tags={"run": run}, max_retries=0)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_metered_call_is_recorded_as_the_gateway_records_it(
    case: Case, asynchronous: bool, server, fake_provider, reporter, run_id
) -> None:
    direct = meterr.instrument(
        direct_client(case.provider, fake_provider.url, asynchronous), reporter=reporter, tags={"run": run_id}
    )
    through_gateway = gateway_client(case.provider, server, run_id + "-gateway", asynchronous)
    if asynchronous:
        got_direct = asyncio.run(case.acall(direct))
        got_gateway = asyncio.run(case.acall(through_gateway))
    else:
        got_direct = case.call(direct)
        got_gateway = case.call(through_gateway)

    assert reporter.flush(timeout=30)
    metered = only(server.events("run=" + run_id))
    recorded = only(server.wait_for_events("run=%s-gateway" % run_id, 1))

    assert usage_of(metered) == case.usage
    assert facts(metered) == facts(recorded)
    assert (metered["endpoint"], metered["stream"], metered["status"]) == (case.endpoint, case.stream, 200)
    assert metered["upstream_request_id"] == case.upstream_request_id
    assert metered["route"] == "sdk" and metered["tags"] == {"run": run_id}
    assert metered["latency_ms"] >= 0 and (metered["ttft_ms"] is not None) == case.stream
    assert seen(got_direct) == seen(got_gateway), "the app must see what it would see through the gateway"
    assert reporter.counters == meterr.Counters(sent=1)
