"""Metering ``openai.OpenAI`` / ``AsyncOpenAI`` (and their Azure twins): Chat Completions,
Responses and Embeddings, streaming and not, read the way meterr's gateway reads them."""

from __future__ import annotations

from typing import Any, Mapping, Tuple

from ._events import Usage
from ._metering import Answer, Metering, StreamReader, Surface, count, field, unwrap_method, wrap_method

#: Responses stream events that carry the response (and, at the end, its usage).
_RESPONSE_EVENTS = frozenset(
    {"response.created", "response.in_progress", "response.completed", "response.incomplete", "response.failed", "response.done"}
)
_TERMINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed", "response.done"})


def chat_usage(usage: Any) -> Usage:
    """``CompletionUsage``: cached tokens are part of ``prompt_tokens``, reasoning part of ``completion_tokens``."""
    prompt = count(field(usage, "prompt_tokens"))
    completion = count(field(usage, "completion_tokens"))
    return Usage(
        input_tokens=prompt,
        cache_read_tokens=min(prompt, count(field(usage, "prompt_tokens_details", "cached_tokens"))),
        output_tokens=completion,
        reasoning_tokens=min(completion, count(field(usage, "completion_tokens_details", "reasoning_tokens"))),
    )


def responses_usage(usage: Any) -> Usage:
    """``ResponseUsage`` of the Responses API."""
    prompt = count(field(usage, "input_tokens"))
    output = count(field(usage, "output_tokens"))
    return Usage(
        input_tokens=prompt,
        cache_read_tokens=min(prompt, count(field(usage, "input_tokens_details", "cached_tokens"))),
        output_tokens=output,
        reasoning_tokens=min(output, count(field(usage, "output_tokens_details", "reasoning_tokens"))),
    )


class ChatCompletions(Surface):
    """``chat.completions.create``. A stream only carries usage when asked for
    (``stream_options.include_usage``): when the app did not ask, the instrumentation asks, and hides
    the extra usage-only chunk from the app, as meterr's gateway does."""

    endpoint = "chat.completions"

    def __init__(self, stream_usage: bool) -> None:
        self.stream_usage = stream_usage

    def prepare_stream(self, kwargs: Mapping[str, Any]) -> Tuple[Mapping[str, Any], bool]:
        options = kwargs.get("stream_options")
        options = options if isinstance(options, Mapping) else {}
        if options.get("include_usage") is True or not self.stream_usage:
            return kwargs, False
        return {**kwargs, "stream_options": {**options, "include_usage": True}}, True

    def read(self, result: Any) -> Answer:
        usage = field(result, "usage")
        contents = (field(choice, "message", "content") for choice in field(result, "choices") or ())
        return Answer(
            chat_usage(usage) if usage is not None else None,
            field(result, "model"),
            field(result, "id"),
            "".join(content for content in contents if isinstance(content, str)),
        )

    def stream_reader(self, hide_usage: bool) -> StreamReader:
        return ChatStreamReader(hide_usage)


class ChatStreamReader(StreamReader):
    """Chat chunks: usage arrives on one chunk (``usage`` set; detected by that, not by empty
    ``choices``, which Azure's first chunk also has); the stream's end is its only "done"."""

    def __init__(self, hide_usage_chunk: bool) -> None:
        super().__init__()
        self.hide_usage_chunk = hide_usage_chunk
        self.finished = True

    def consume(self, chunk: Any) -> bool:
        self.note(field(chunk, "model"), field(chunk, "id"))
        usage = field(chunk, "usage")
        if usage is not None:
            self.usage = chat_usage(usage)
        choices = field(chunk, "choices") or ()
        for choice in choices:
            content = field(choice, "delta", "content")
            if isinstance(content, str):
                self.text.append(content)
        return not (self.hide_usage_chunk and usage is not None and not choices)


class Responses(Surface):
    """``responses.create``: usage in the answer, or in a stream's terminal event."""

    endpoint = "responses"

    def read(self, result: Any) -> Answer:
        usage = field(result, "usage")
        text = field(result, "output_text")
        return Answer(
            responses_usage(usage) if usage is not None else None,
            field(result, "model"),
            field(result, "id"),
            text if isinstance(text, str) else "",
        )

    def stream_reader(self, hide_usage: bool) -> StreamReader:
        return ResponsesStreamReader()


class ResponsesStreamReader(StreamReader):
    def consume(self, event: Any) -> bool:
        kind = field(event, "type")
        if kind == "response.output_text.delta":
            delta = field(event, "delta")
            if isinstance(delta, str):
                self.text.append(delta)
        elif kind in _RESPONSE_EVENTS:
            response = field(event, "response")
            self.note(field(response, "model"), field(response, "id"))
            usage = field(response, "usage")
            if usage is not None:
                self.usage = responses_usage(usage)
            if kind in _TERMINAL_RESPONSE_EVENTS:
                self.finished = True
        return True


class Embeddings(Surface):
    """``embeddings.create``: input tokens only."""

    endpoint = "embeddings"

    def read(self, result: Any) -> Answer:
        usage = field(result, "usage")
        tokens = Usage(input_tokens=count(field(usage, "prompt_tokens"))) if usage is not None else None
        return Answer(tokens, field(result, "model"), None)

    def stream_reader(self, hide_usage: bool) -> StreamReader:
        raise TypeError("embeddings do not stream")


def provider_of(client: Any) -> str:
    """``azure`` for ``AzureOpenAI`` clients, ``openai`` otherwise."""
    import openai

    return "azure" if isinstance(client, (openai.AzureOpenAI, openai.AsyncAzureOpenAI)) else "openai"


def _metered_resources(client: Any) -> Tuple[Any, ...]:
    return (client.chat.completions, client.responses, client.embeddings)


def instrument_openai(client: Any, metering: Metering, stream_usage: bool) -> None:
    """Meters ``chat.completions.create``, ``responses.create`` and ``embeddings.create``."""
    wrap_method(client.chat.completions, "create", ChatCompletions(stream_usage), metering)
    wrap_method(client.responses, "create", Responses(), metering)
    wrap_method(client.embeddings, "create", Embeddings(), metering)


def uninstrument_openai(client: Any) -> None:
    for resource in _metered_resources(client):
        unwrap_method(resource, "create")
