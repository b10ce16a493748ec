"""Metering ``anthropic.Anthropic`` / ``AsyncAnthropic``: ``messages.create`` (streaming and not)
and the ``messages.stream`` helper, read the way meterr's gateway reads them."""

from __future__ import annotations

import functools
import logging
from typing import Any, Optional

from ._events import Usage
from ._metering import MARK, Answer, Metering, StreamReader, Surface, begin, count, field, unwrap_method, wrap_method

logger = logging.getLogger("meterr")


def messages_usage(usage: Any, over: Optional[Usage] = None) -> Usage:
    """Normalises Anthropic usage, whose ``input_tokens`` EXCLUDES cache reads and writes.

    ``over`` is what a stream said before: a ``message_delta`` carries cumulative counts that replace
    earlier ones, and a field it leaves out keeps its earlier count. Cache writes split into 5-minute
    and 1-hour parts (``cache_creation``); a total without that breakdown keeps the 1-hour writes
    known so far, and the rest are 5-minute writes.
    """
    before = over or Usage()
    uncached = count(field(usage, "input_tokens"), before.input_tokens - _cache_parts(before))
    cache_read = count(field(usage, "cache_read_input_tokens"), before.cache_read_tokens)
    write_5m, write_1h = before.cache_write_tokens, before.cache_write_1h_tokens
    breakdown = field(usage, "cache_creation")
    if breakdown is not None:
        write_5m = count(field(breakdown, "ephemeral_5m_input_tokens"), write_5m)
        write_1h = count(field(breakdown, "ephemeral_1h_input_tokens"), write_1h)
    else:
        total = field(usage, "cache_creation_input_tokens")
        if isinstance(total, int) and not isinstance(total, bool):
            write_1h = min(write_1h, max(0, total))
            write_5m = max(0, total) - write_1h
    output = count(field(usage, "output_tokens"), before.output_tokens)
    thinking = count(field(usage, "output_tokens_details", "thinking_tokens"), before.reasoning_tokens)
    return Usage(
        input_tokens=uncached + cache_read + write_5m + write_1h,
        cache_read_tokens=cache_read,
        cache_write_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        output_tokens=output,
        reasoning_tokens=min(thinking, output),
    )


def _cache_parts(usage: Usage) -> int:
    return usage.cache_read_tokens + usage.cache_write_tokens + usage.cache_write_1h_tokens


class Messages(Surface):
    """``messages.create`` and ``messages.stream``."""

    endpoint = "messages"

    def read(self, result: Any) -> Answer:
        usage = field(result, "usage")
        texts = (field(block, "text") for block in field(result, "content") or ())
        return Answer(
            messages_usage(usage) if usage is not None else None,
            field(result, "model"),
            field(result, "id"),
            "".join(text for text in texts if isinstance(text, str)),
        )

    def stream_reader(self, hide_usage: bool) -> StreamReader:
        return MessagesStreamReader()


class MessagesStreamReader(StreamReader):
    """``message_start`` carries the input side; each ``message_delta`` the cumulative counts."""

    def consume(self, event: Any) -> bool:
        kind = field(event, "type")
        if kind == "message_start":
            message = field(event, "message")
            self.note(field(message, "model"), field(message, "id"))
            usage = field(message, "usage")
            if usage is not None:
                self.usage = messages_usage(usage)
        elif kind == "message_delta":
            usage = field(event, "usage")
            if usage is not None:
                self.usage = messages_usage(usage, over=self.usage)
        elif kind == "content_block_delta":
            delta = field(event, "delta")
            for name in ("text", "thinking", "partial_json"):
                value = field(delta, name)
                if isinstance(value, str):
                    self.text.append(value)
                    break
        elif kind == "message_stop":
            self.finished = True
        return True


def instrument_anthropic(client: Any, metering: Metering) -> None:
    """Meters ``messages.create`` and ``messages.stream``."""
    import anthropic

    surface = Messages()
    wrap_method(client.messages, "create", surface, metering)
    _wrap_stream_helper(client.messages, surface, metering, isinstance(client, anthropic.AsyncAnthropic))


def uninstrument_anthropic(client: Any) -> None:
    unwrap_method(client.messages, "create")
    unwrap_method(client.messages, "stream")


def _wrap_stream_helper(resource: Any, surface: Messages, metering: Metering, asynchronous: bool) -> None:
    """``messages.stream(...)`` returns a manager that makes the request when entered; the request it
    holds is wrapped so that the raw stream it returns is tapped like ``create(stream=True)``'s."""
    original = getattr(resource, "stream", None)
    if original is None or getattr(original, MARK, False):
        return
    # The manager keeps its request in a private attribute: if a later SDK renames it, the helper's
    # streams go unmetered (with one warning) and the app's calls are untouched.
    attribute = "_AsyncMessageStreamManager__api_request" if asynchronous else "_MessageStreamManager__api_request"

    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        try:
            request = getattr(manager, attribute)
        except AttributeError:
            logger.warning("meterr: this anthropic SDK's messages.stream() is not metered")
            return manager
        if asynchronous:
            setattr(manager, attribute, _metered_request_async(request, surface, metering, kwargs))
        else:
            setattr(manager, attribute, functools.partial(_metered_request, request, surface, metering, kwargs))
        return manager

    wrapper = functools.wraps(original)(stream)
    setattr(wrapper, MARK, True)
    resource.stream = wrapper


def _metered_request(request: Any, surface: Messages, metering: Metering, kwargs: Any) -> Any:
    call, _ = begin(metering, surface, kwargs, stream=True)
    if call is None:
        return request()
    try:
        raw_stream = request()
    except Exception as error:
        call.fail(error)
        raise
    call.observe(raw_stream)
    return raw_stream


async def _metered_request_async(request: Any, surface: Messages, metering: Metering, kwargs: Any) -> Any:
    call, _ = begin(metering, surface, kwargs, stream=True)
    if call is None:
        return await request
    try:
        raw_stream = await request
    except Exception as error:
        call.fail(error)
        raise
    call.observe(raw_stream)
    return raw_stream
