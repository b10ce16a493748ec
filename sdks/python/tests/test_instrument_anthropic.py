"""``instrument`` on the anthropic clients: 1-hour cache writes, stream overlays, an error inside a
stream, error answers, the ``messages.stream`` helper, and calls while meterr is down."""

from __future__ import annotations

import asyncio
import json

import anthropic
import pytest

import meterr
from helpers import expected_usage, only, usage_of
from meterr._events import Usage
from meterr._instrument_anthropic import messages_usage
from servers import ADMIN_KEY, MeterrServer, fixture, free_port

CLAUDE = "claude-sonnet-4-5-20250929"
MESSAGES = [{"role": "user", "content": "hi"}]
# 10 uncached + 3,000 cache reads + 500 5-minute and 1,500 1-hour cache writes, 300 out: USD 0.016305
# on Sonnet 4.5 (the same fixture and number as the Swift conformance tests).
CACHE_1H = expected_usage(
    CLAUDE,
    "0.016305000",
    input_tokens=5010,
    cache_read_tokens=3000,
    cache_write_tokens=500,
    cache_write_1h_tokens=1500,
    output_tokens=300,
)


def client_at(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0)


def stored(server: MeterrServer, run_id: str, count: int) -> list:
    events = server.events("run=" + run_id)
    assert len(events) == count, events
    return events


def test_usage_is_normalised_and_stream_updates_replace_without_erasing() -> None:
    start = json.loads(fixture("anthropic-messages-cache-1h.json"))["usage"]
    assert messages_usage(start) == Usage(5010, 3000, 500, 1500, 300, 0)
    # A message_delta with a cache-write total and no breakdown keeps the known 1-hour writes.
    assert messages_usage({"cache_creation_input_tokens": 2000, "output_tokens": 301}, over=messages_usage(start)) == Usage(
        5010, 3000, 500, 1500, 301, 0
    )
    # Without any breakdown, cache writes are 5-minute ones; thinking is part of the output.
    assert messages_usage(
        {"input_tokens": 4, "cache_creation_input_tokens": 6, "output_tokens": 9, "output_tokens_details": {"thinking_tokens": 5}}
    ) == Usage(10, 0, 6, 0, 9, 5)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_one_hour_cache_writes_are_reported_and_priced(fixtures, server, reporter, run_id, stream) -> None:
    fixtures.answer("/v1/messages", 200, fixture("anthropic-messages-cache-1h.json"))
    if stream:
        fixtures.answer("/v1/messages", 200, fixture("anthropic-messages-cache-1h.sse"), "text/event-stream")
    client = meterr.instrument(client_at(fixtures.url), reporter=reporter, tags={"run": run_id})
    reply = client.messages.create(model="claude-sonnet-4-5", max_tokens=512, messages=MESSAGES, stream=stream)
    if stream:
        list(reply)
    assert reporter.flush(timeout=30)
    event = only(stored(server, run_id, 1))
    assert usage_of(event) == CACHE_1H
    assert (event["stream"], event["model_requested"], event["endpoint"]) == (stream, "claude-sonnet-4-5", "messages")


def test_an_error_inside_a_stream_reaches_the_app_unchanged_and_the_call_is_estimated(
    fixtures, server, reporter, run_id
) -> None:
    fixtures.answer("/v1/messages", 200, fixture("anthropic-messages-error.sse"), "text/event-stream")
    plain = client_at(fixtures.url)
    metered = meterr.instrument(client_at(fixtures.url), reporter=reporter, tags={"run": run_id})
    errors = []
    for client in (plain, metered):
        with pytest.raises(anthropic.APIStatusError) as caught:
            for _ in client.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES, stream=True):
                pass
        errors.append(caught.value)
    assert type(errors[0]) is type(errors[1]) and str(errors[0]) == str(errors[1])
    assert reporter.flush(timeout=30)
    event = only(stored(server, run_id, 1))
    # The input as message_start said it; the output estimated from "Hello! How can I help?" (22 bytes).
    assert usage_of(event) == expected_usage(CLAUDE, event["cost_usd"], "estimated", input_tokens=12, output_tokens=6)
    assert event["status"] == 200 and event["cost_usd"] is not None


def test_an_error_answer_raises_as_before_and_is_recorded_with_its_status(fixtures, server, reporter, run_id) -> None:
    fixtures.answer(
        "/v1/messages", 529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_mock"}'
    )
    metered = meterr.instrument(client_at(fixtures.url), reporter=reporter, tags={"run": run_id})
    with pytest.raises(anthropic.OverloadedError):
        metered.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES)
    with pytest.raises(anthropic.OverloadedError):
        with metered.messages.stream(model=CLAUDE, max_tokens=64, messages=MESSAGES):
            pass
    assert reporter.flush(timeout=30)
    events = stored(server, run_id, 2)
    assert {(e["status"], e["input_tokens"], e["output_tokens"], e["stream"]) for e in events} == {
        (529, 0, 0, False),
        (529, 0, 0, True),
    }


def test_the_stream_helpers_final_message_and_the_metered_event_agree(fake_provider, server, reporter, run_id) -> None:
    client = meterr.instrument(client_at(fake_provider.url), reporter=reporter, tags={"run": run_id})
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert reporter.flush(timeout=30)
    event = only(stored(server, run_id, 1))
    assert (event["input_tokens"], event["output_tokens"]) == (final.usage.input_tokens, final.usage.output_tokens)
    assert event["upstream_request_id"] == "fake-anthropic-messages" and event["ttft_ms"] is not None


def test_the_apps_calls_succeed_while_meterr_is_down_and_are_delivered_when_it_is_back(
    meterr_binary, fake_provider, run_id
) -> None:
    port = free_port()

    async def calls(reporter: meterr.AsyncReporter) -> str:
        client = meterr.instrument(
            anthropic.AsyncAnthropic(base_url=fake_provider.url, api_key="sk-ant-test", max_retries=0),
            reporter=reporter,
            tags={"run": run_id},
        )
        reply = await client.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES)
        async with client.messages.stream(model=CLAUDE, max_tokens=64, messages=MESSAGES) as stream:
            text = "".join([chunk async for chunk in stream.text_stream])
        assert await reporter.flush(timeout=0.3) is False
        return reply.content[0].text + " / " + text

    async def main() -> None:
        reporter = meterr.AsyncReporter(
            "http://127.0.0.1:%d" % port, ADMIN_KEY, flush_interval=0.05, initial_backoff=0.05, max_backoff=0.2,
            close_at_exit=False,
        )
        assert await calls(reporter) == "Hello! How can I help you today? / Hello! How can I help?"
        assert reporter.counters.pending == 2 and reporter.counters.sent == 0
        later = await asyncio.get_running_loop().run_in_executor(None, MeterrServer, meterr_binary, port)
        try:
            assert await reporter.aclose(timeout=60)
            stored = sorted(later.events("run=" + run_id), key=lambda event: event["input_tokens"])
            assert [(e["input_tokens"], e["output_tokens"], e["cost_usd"]) for e in stored] == [
                (12, 9, "0.000171000"),
                (12060, 11, "0.010881000"),
            ]
        finally:
            later.stop()

    asyncio.run(main())
