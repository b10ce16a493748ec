"""``instrument`` on the openai clients: what the app sees is unchanged, the usage chunk decision,
estimates, errors, attribution, copies, raw responses, and calls while meterr is down."""

from __future__ import annotations

import asyncio
import gc

import openai
import pytest

import meterr
from helpers import expected_usage, only, usage_of
from servers import ADMIN_KEY, MeterrServer, fixture, free_port

MESSAGES = [{"role": "user", "content": "hi"}]
OPENAI_ERROR = b'{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}'


def stored(server: MeterrServer, run_id: str, count: int) -> list:
    """This test's events in meterr, which must be ``count``."""
    events = server.events("run=" + run_id)
    assert len(events) == count, events
    return events


def client_at(url: str, **settings) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0, **settings)


def test_the_app_gets_the_very_objects_and_types_the_sdk_returns(fake_provider, reporter, run_id) -> None:
    plain = client_at(fake_provider.url)
    metered = meterr.instrument(client_at(fake_provider.url), reporter=reporter, tags={"run": run_id})

    reply, plain_reply = (c.chat.completions.create(model="gpt-4.1", messages=MESSAGES) for c in (metered, plain))
    assert type(reply) is type(plain_reply) is openai.types.chat.ChatCompletion
    assert reply.model_dump() == plain_reply.model_dump() and reply._request_id == plain_reply._request_id

    stream = metered.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    plain_stream = plain.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert type(stream) is type(plain_stream) is openai.Stream
    with stream:
        chunks = [chunk.model_dump() for chunk in stream]
    assert chunks == [chunk.model_dump() for chunk in plain_stream]
    # The wrapper presents itself as the method it wraps.
    assert metered.chat.completions.create.__name__ == "create"
    assert metered.chat.completions.create.__wrapped__.__func__ is type(metered.chat.completions).create


def test_meterr_asks_for_stream_usage_and_hides_the_extra_chunk(fixtures, server, reporter, run_id) -> None:
    fixtures.answer("/v1/chat/completions", 200, fixture("openai-chat.sse"), "text/event-stream")
    client = meterr.instrument(client_at(fixtures.url), reporter=reporter, tags={"run": run_id})

    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_obfuscation": False}
        )
    )
    assert fixtures.requests[-1][1]["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert len(chunks) == 4 and all(chunk.usage is None for chunk in chunks), "the usage chunk must be hidden"

    asked = list(
        client.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len(asked) == 5 and asked[-1].usage.prompt_tokens == 12, "an app that asked sees its usage chunk"

    assert reporter.flush(timeout=30)
    for event in stored(server, run_id, 2):
        assert usage_of(event) == expected_usage("gpt-4.1-2025-04-14", "0.000040000", input_tokens=12, output_tokens=2)


@pytest.mark.parametrize("stream_usage", [True, False], ids=["asking", "not-asking"])
def test_a_stream_that_ends_without_usage_is_estimated(fixtures, server, reporter, run_id, stream_usage) -> None:
    fixtures.answer("/v1/chat/completions", 200, fixture("openai-chat-cut.sse"), "text/event-stream")
    client = meterr.instrument(client_at(fixtures.url), reporter=reporter, tags={"run": run_id}, stream_usage=stream_usage)
    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True))
    assert len(chunks) == 4
    assert ("stream_options" in fixtures.requests[-1][1]) is stream_usage
    assert reporter.flush(timeout=30)
    event = only(stored(server, run_id, 1))
    assert event["usage_source"] == "estimated" and event["status"] == 200 and event["stream"] is True
    assert event["output_tokens"] == 2  # "Hello!": 6 bytes, a quarter of them rounded up
    assert event["input_tokens"] > 0 and event["cost_usd"] is not None


def test_an_abandoned_stream_is_reported_when_closed_or_dropped(fixtures, server, reporter, run_id) -> None:
    fixtures.answer("/v1/chat/completions", 200, fixture("openai-chat.sse"), "text/event-stream")
    client = meterr.instrument(client_at(fixtures.url), reporter=reporter, tags={"run": run_id})

    with client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True) as stream:
        for _ in stream:
            break  # leaves the stream early: `with` closes it
    assert reporter.flush(timeout=30)
    closed = only(stored(server, run_id, 1))

    dropped = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    del dropped  # never read: reported when it is freed
    gc.collect()
    assert reporter.flush(timeout=30)
    events = stored(server, run_id, 2)
    assert {event["usage_source"] for event in events} == {"estimated"}
    assert closed["output_tokens"] == 0 and closed["ttft_ms"] is not None
    assert reporter.counters.sent == 2


def test_an_error_answer_raises_as_before_and_is_recorded_with_its_status(fixtures, server, reporter, run_id) -> None:
    fixtures.answer("/v1/chat/completions", 429, OPENAI_ERROR)
    plain = client_at(fixtures.url)
    metered = meterr.instrument(client_at(fixtures.url), reporter=reporter, tags={"run": run_id})
    with pytest.raises(openai.RateLimitError) as plain_error:
        plain.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as metered_error:
        metered.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert str(metered_error.value) == str(plain_error.value)
    assert reporter.flush(timeout=30)
    event = only(stored(server, run_id, 1))
    assert (event["status"], event["model"], event["input_tokens"], event["output_tokens"]) == (429, "gpt-4.1", 0, 0)
    assert event["upstream_request_id"] == "fixture-request"


def test_an_unreachable_provider_raises_as_before_and_reports_nothing(reporter) -> None:
    metered = meterr.instrument(client_at("http://127.0.0.1:%d" % free_port()), reporter=reporter)
    with pytest.raises(openai.APIConnectionError):
        metered.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    with pytest.raises(TypeError):
        metered.chat.completions.create(model="gpt-4.1")  # the SDK's own argument check, unchanged
    assert reporter.flush(timeout=30)
    assert reporter.counters == meterr.Counters()


def test_the_apps_calls_succeed_while_meterr_is_down_and_are_delivered_when_it_is_back(
    meterr_binary, fake_provider, make_reporter, run_id
) -> None:
    port = free_port()
    reporter = make_reporter("http://127.0.0.1:%d" % port, ADMIN_KEY, initial_backoff=0.05, max_backoff=0.2)
    client = meterr.instrument(client_at(fake_provider.url), reporter=reporter, tags={"run": run_id})
    reply = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
        if c.choices
    )
    embedding = client.embeddings.create(model="text-embedding-3-small", input="hi", encoding_format="float")
    assert (reply.usage.prompt_tokens, text, embedding.usage.prompt_tokens) == (1200, "Hello!", 5)
    assert reporter.flush(timeout=0.3) is False
    assert reporter.counters.pending == 3 and reporter.counters.sent == 0

    later = MeterrServer(meterr_binary, port=port)
    try:
        assert reporter.flush(timeout=60)
        stored = later.events("run=" + run_id)
        assert sorted(event["input_tokens"] for event in stored) == [5, 12, 1200]
        assert all(event["cost_usd"] is not None for event in stored)
    finally:
        later.stop()


def test_attribution_from_instrument_the_call_and_the_request(fake_provider, server, reporter, run_id) -> None:
    client = meterr.instrument(
        client_at(fake_provider.url), reporter=reporter, team="search", project="beta", tags={"run": run_id, "env": "test"}
    )
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, user="body-user")
    with meterr.attribution(user="ana", tags={"feature": "ask"}):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, user="body-user")
        stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    list(stream)  # read outside the block: billed as the call was made
    assert reporter.flush(timeout=30)
    events = sorted(stored(server, run_id, 3), key=lambda event: event["ts"])
    assert [(e["team"], e["user"], e["project"]) for e in events] == [
        ("search", "body-user", "beta"),
        ("search", "ana", "beta"),
        ("search", "ana", "beta"),
    ]
    assert events[0]["tags"] == {"run": run_id, "env": "test"}
    assert events[1]["tags"] == events[2]["tags"] == {"run": run_id, "env": "test", "feature": "ask"}


def test_copies_are_metered_raw_responses_pass_through_and_instrumenting_twice_reports_once(
    fake_provider, server, reporter, run_id
) -> None:
    client = meterr.instrument(client_at(fake_provider.url), reporter=reporter, tags={"run": run_id})
    meterr.instrument(client, reporter=reporter, tags={"run": run_id})
    client.with_options(timeout=30).chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4.1", messages=MESSAGES)
    assert raw.parse().usage.prompt_tokens == 1200
    assert reporter.flush(timeout=30)
    assert len(stored(server, run_id, 2)) == 2

    meterr.uninstrument(client)
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    client.with_options(timeout=30).chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert reporter.flush(timeout=30)
    assert reporter.counters.sent == 2


def test_azure_clients_report_provider_azure(fake_provider, server, reporter, run_id) -> None:
    client = openai.AzureOpenAI(
        azure_endpoint=fake_provider.url, api_key="azure-test", api_version="2024-10-21", max_retries=0
    )
    meterr.instrument(client, reporter=reporter, tags={"run": run_id})
    assert client.chat.completions.create(model="prod-gpt41", messages=MESSAGES).usage.prompt_tokens == 1200
    assert reporter.flush(timeout=30)
    event = only(stored(server, run_id, 1))
    assert (event["provider"], event["model"], event["model_requested"]) == ("azure", "gpt-4.1-2025-04-14", "prod-gpt41")
    assert event["cost_usd"] == "0.000928000"


def test_async_client_errors_and_argument_checks_behave_as_before(fixtures, server, reporter, run_id) -> None:
    fixtures.answer("/v1/chat/completions", 429, OPENAI_ERROR)

    async def main() -> None:
        client = meterr.instrument(
            openai.AsyncOpenAI(base_url=fixtures.url + "/v1", api_key="sk-test", max_retries=0),
            reporter=reporter,
            tags={"run": run_id},
        )
        with pytest.raises(TypeError):
            client.chat.completions.create(model="gpt-4.1")  # raised at the call, before any await
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)

    asyncio.run(main())
    assert reporter.flush(timeout=30)
    assert only(stored(server, run_id, 1))["status"] == 429


def test_other_clients_are_refused() -> None:
    with pytest.raises(TypeError, match="openai.OpenAI"):
        meterr.instrument(object(), reporter=None)
