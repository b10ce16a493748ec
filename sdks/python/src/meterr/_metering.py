"""Metering one call of an official client: the machinery both instrumentations share.

A ``Surface`` says how one API method is metered (its endpoint, how to read the usage of its
answer, how to read its stream). ``wrap_method`` puts a metering wrapper on a client's resource;
each call becomes a ``MeteredCall`` that reports exactly one usage event, whatever happens: when
the answer arrives, when a stream ends, is closed or is dropped, or when the provider answers
with an error status.

Nothing here may change what the app sees. The wrappers return the very object the SDK returned
(a stream is tapped in place: its iterator is routed through a reader), re-raise the very
exception the SDK raised, and swallow (and log at DEBUG) any failure of their own.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ._events import Attribution, Usage, current_attribution, format_timestamp, new_event_id

logger = logging.getLogger("meterr")

#: The header the official SDKs set for ``with_raw_response`` and ``with_streaming_response``.
_RAW_RESPONSE_HEADER = "x-stainless-raw-response"
#: The response headers that carry the provider's request id, as meterr's gateway reads them.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "apim-request-id")
#: Request arguments that are not part of what the model reads.
_TRANSPORT_ARGUMENTS = frozenset({"extra_headers", "extra_query", "timeout"})


def field(value: Any, *path: str) -> Any:
    """Follows ``path`` through SDK models (attributes) or mappings (keys); ``None`` where it ends."""
    for name in path:
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(name)
        else:
            value = getattr(value, name, None)
    return value


def count(value: Any, default: int = 0) -> int:
    """A token count: a non-negative int, or ``default`` when the provider left it out."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(0, value)


def estimate_tokens(text: str) -> int:
    """A rough token count for when the provider's own never arrives: a quarter of the UTF-8 bytes,
    as meterr's gateway estimates (``usage_source: "estimated"``)."""
    return (len(text.encode("utf-8")) + 3) // 4


def estimate_request_tokens(kwargs: Mapping[str, Any]) -> int:
    """Estimates a request's input tokens from the arguments the model reads."""
    readable = {
        name: value
        for name, value in kwargs.items()
        if name not in _TRANSPORT_ARGUMENTS and type(value).__name__ not in ("Omit", "NotGiven")
    }
    return estimate_tokens(json.dumps(readable, default=str, ensure_ascii=False))


class StreamReader:
    """Reads usage out of a stream's items as the app iterates them."""

    def __init__(self) -> None:
        self.usage: Optional[Usage] = None
        self.model: Optional[str] = None
        self.response_id: Optional[str] = None
        #: Whether the stream said it was done (OpenAI chat streams have no such item: their end is).
        self.finished = False
        self.text: List[str] = []

    def consume(self, item: Any) -> bool:
        """Takes one item; returns whether the app sees it."""
        raise NotImplementedError

    def note(self, model: Any, response_id: Any) -> None:
        if isinstance(model, str) and model:
            self.model = model
        if self.response_id is None and isinstance(response_id, str) and response_id:
            self.response_id = response_id


class Answer(NamedTuple):
    """What a whole (non-streamed) answer says."""

    usage: Optional[Usage]
    model: Optional[str]
    response_id: Optional[str]
    #: The answer's text, to estimate the output from when it carries no usage.
    text: str = ""


class Surface:
    """How one API method is metered. Subclasses read their provider's shapes."""

    #: The event's ``endpoint``.
    endpoint = ""

    def prepare_stream(self, kwargs: Mapping[str, Any]) -> Tuple[Mapping[str, Any], bool]:
        """The arguments to stream with, and whether the reader hides an item it asked for."""
        return kwargs, False

    def read(self, result: Any) -> Answer:
        """What a whole answer says."""
        raise NotImplementedError

    def stream_reader(self, hide_usage: bool) -> StreamReader:
        raise NotImplementedError


@dataclass(frozen=True)
class Metering:
    """What an instrumented client's calls are billed to and where their events go."""

    #: A ``Reporter`` or ``AsyncReporter``.
    reporter: Any
    provider: str
    attribution: Attribution


class MeteredCall:
    """One call, from request to its single usage event."""

    def __init__(
        self,
        metering: Metering,
        surface: Surface,
        kwargs: Mapping[str, Any],
        stream: bool,
    ) -> None:
        self.metering = metering
        self.surface = surface
        self.stream = stream
        self.started = time.monotonic()
        self.started_at = time.time()
        self.event_id = new_event_id(self.started_at)
        model = kwargs.get("model")
        self.model_requested = model if isinstance(model, str) else None
        # Who to bill is decided when the call is made, not when its stream ends.
        attribution = metering.attribution.overlaid(current_attribution())
        body_user = kwargs.get("user")
        if attribution.user is None and isinstance(body_user, str) and body_user:
            attribution = replace(attribution, user=body_user)  # OpenAI's `user` field, as the gateway reads it
        self.attribution = attribution
        # The request as it was sent, should its input have to be estimated: the app may append to
        # its messages before a stream ends.
        self._request = {name: list(value) if isinstance(value, list) else value for name, value in kwargs.items()}
        self.upstream_request_id: Optional[str] = None
        self.status = 200
        #: Whether the reader hides an item the instrumentation asked for (OpenAI's usage chunk).
        self.hide_usage = False
        self._first_item: Optional[float] = None
        self._reported = False
        self._lock = threading.Lock()

    # The outcomes.

    def observe(self, result: Any) -> None:
        """The call returned: reads a whole answer, or taps a stream for when the app reads it."""
        try:
            if self.stream:
                self._tap(result)
            else:
                self._read_whole(result)
        except Exception:
            logger.debug("meterr: could not meter a %s call", self.surface.endpoint, exc_info=True)

    def fail(self, error: BaseException) -> None:
        """The call raised. An error the provider answered (it has a ``status_code``) is reported with
        that status and no tokens, as the gateway records it; any other (unreachable, timed out,
        refused by the SDK itself) reports nothing."""
        try:
            status = getattr(error, "status_code", None)
            if isinstance(status, int) and not isinstance(status, bool):
                self.status = status
                request_id = getattr(error, "request_id", None)
                self.upstream_request_id = request_id if isinstance(request_id, str) else None
                self._emit(Usage(), "reported", None)
        except Exception:
            logger.debug("meterr: could not meter a failed call", exc_info=True)

    def first_item(self) -> None:
        if self._first_item is None:
            self._first_item = time.monotonic()

    def finish_stream(self, reader: StreamReader, complete: bool) -> None:
        """The stream ended (``complete``: read to its end without an error), or was abandoned."""
        try:
            usage = reader.usage
            if usage is not None and complete and reader.finished:
                self._emit(usage, "reported", reader.model, reader.response_id)
                return
            # Cut, abandoned, or its usage never sent: estimate what is missing, as the gateway does
            # (the input from the request unless the provider said it, the output from the text).
            streamed = estimate_tokens("".join(reader.text))
            if usage is None:
                estimate = Usage(input_tokens=estimate_request_tokens(self._request), output_tokens=streamed)
            else:
                estimate = replace(usage, output_tokens=max(usage.output_tokens, streamed))
            self._emit(estimate, "estimated", reader.model, reader.response_id)
        except Exception:
            logger.debug("meterr: could not meter a stream", exc_info=True)

    # Reading.

    def _read_whole(self, result: Any) -> None:
        answer = self.surface.read(result)
        request_id = getattr(result, "_request_id", None)
        if isinstance(request_id, str) and request_id:
            self.upstream_request_id = request_id
        if answer.usage is not None:
            self._emit(answer.usage, "reported", answer.model, answer.response_id)
        else:
            estimate = Usage(
                input_tokens=estimate_request_tokens(self._request), output_tokens=estimate_tokens(answer.text)
            )
            self._emit(estimate, "estimated", answer.model, answer.response_id)

    def _tap(self, stream: Any) -> None:
        self.upstream_request_id = _header(field(stream, "response", "headers"), REQUEST_ID_HEADERS)
        status = field(stream, "response", "status_code")
        if isinstance(status, int):
            self.status = status
        reader = self.surface.stream_reader(self.hide_usage)
        if not tap_stream(stream, reader, self):
            logger.warning("meterr: this SDK's %s streams cannot be tapped; they are not metered", self.surface.endpoint)

    # Reporting.

    def _emit(
        self, usage: Usage, source: str, model: Optional[str], response_id: Optional[str] = None
    ) -> None:
        with self._lock:
            if self._reported:
                return
            self._reported = True
        now = time.monotonic()
        attribution = self.attribution
        event = {
            "id": self.event_id,
            "ts": format_timestamp(self.started_at),
            "team": attribution.team,
            "user": attribution.user,
            "project": attribution.project,
            "tags": dict(attribution.tags),
            "provider": self.metering.provider,
            "model": model or self.model_requested or "unknown",
            "model_requested": self.model_requested,
            "endpoint": self.surface.endpoint,
            **usage.as_fields(),
            "usage_source": source,
            "stream": self.stream,
            "status": self.status,
            "latency_ms": int((now - self.started) * 1000),
            "ttft_ms": int((self._first_item - self.started) * 1000)
            if self.stream and self._first_item is not None
            else None,
            "upstream_request_id": self.upstream_request_id or response_id,
            "route": "sdk",
        }
        self.metering.reporter.report({name: value for name, value in event.items() if value is not None})


def _header(headers: Any, names: Sequence[str]) -> Optional[str]:
    if headers is None:
        return None
    for name in names:
        try:
            value = headers.get(name)
        except Exception:
            return None
        if isinstance(value, str) and value:
            return value
    return None


# Streams.


def tap_stream(stream: Any, reader: StreamReader, call: MeteredCall) -> bool:
    """Routes a ``Stream``/``AsyncStream``'s items through ``reader`` in place, so the app keeps the
    very object the SDK returned; the call is reported when the stream ends, raises, is closed or
    is garbage-collected. Says whether the stream could be tapped.

    The official SDKs' streams iterate ``self._iterator``; it is replaced by a generator over it.
    Nothing here holds the stream itself (only a weak reference), so a dropped stream is still
    freed at once and its connection released, as without metering.
    """
    try:
        inner = stream._iterator
    except Exception:
        return False
    if hasattr(inner, "__anext__"):
        stream._iterator = _tapped_async(inner, reader, call)
    elif hasattr(inner, "__next__"):
        stream._iterator = _tapped(inner, reader, call)
    else:
        return False
    _report_on_close(stream, lambda: call.finish_stream(reader, complete=False))
    finalizer = weakref.finalize(stream, call.finish_stream, reader, False)
    finalizer.atexit = False
    return True


def _consume(reader: StreamReader, item: Any) -> bool:
    try:
        return reader.consume(item)
    except Exception:
        logger.debug("meterr: could not read a stream item", exc_info=True)
        return True


def _tapped(inner: Iterator[Any], reader: StreamReader, call: MeteredCall) -> Iterator[Any]:
    try:
        for item in inner:
            call.first_item()
            if _consume(reader, item):
                yield item
    except BaseException:  # an error event, a reset, or the app closing the generator early
        call.finish_stream(reader, complete=False)
        raise
    call.finish_stream(reader, complete=True)


async def _tapped_async(inner: AsyncIterator[Any], reader: StreamReader, call: MeteredCall) -> AsyncIterator[Any]:
    try:
        async for item in inner:
            call.first_item()
            if _consume(reader, item):
                yield item
    except BaseException:
        call.finish_stream(reader, complete=False)
        raise
    call.finish_stream(reader, complete=True)


def _report_on_close(stream: Any, on_close: Callable[[], None]) -> None:
    """Makes ``stream.close()`` (also what ``with`` calls) report the call, if it has not been."""
    close = getattr(type(stream), "close", None)
    if close is None:
        return
    target = weakref.ref(stream)

    if inspect.iscoroutinefunction(close):

        async def close_async(*args: Any, **kwargs: Any) -> Any:
            try:
                instance = target()
                return None if instance is None else await close(instance, *args, **kwargs)
            finally:
                on_close()

        stream.close = functools.wraps(close)(close_async)
    else:

        def close_sync(*args: Any, **kwargs: Any) -> Any:
            try:
                instance = target()
                return None if instance is None else close(instance, *args, **kwargs)
            finally:
                on_close()

        stream.close = functools.wraps(close)(close_sync)


# Wrapping a client's methods.

#: Marks the wrappers ``wrap_method`` puts on a resource.
MARK = "__meterr_metered__"


def is_raw_response(kwargs: Mapping[str, Any]) -> bool:
    """``with_raw_response`` / ``with_streaming_response`` calls: passed through unmetered."""
    headers = kwargs.get("extra_headers")
    if not isinstance(headers, Mapping):
        return False
    return any(isinstance(name, str) and name.lower() == _RAW_RESPONSE_HEADER for name in headers)


def begin(
    metering: Metering, surface: Surface, kwargs: Mapping[str, Any], stream: Optional[bool] = None
) -> Tuple[Optional[MeteredCall], Mapping[str, Any]]:
    """Starts metering a call; returns the call (``None`` if it cannot be metered) and the arguments to send."""
    try:
        streaming = kwargs.get("stream") is True if stream is None else stream
        send, hide = surface.prepare_stream(kwargs) if streaming else (kwargs, False)
        call = MeteredCall(metering, surface, kwargs, streaming)
        call.hide_usage = hide
        return call, send
    except Exception:
        logger.debug("meterr: could not start metering a %s call", surface.endpoint, exc_info=True)
        return None, kwargs


def wrap_method(resource: Any, name: str, surface: Surface, metering: Metering) -> None:
    """Replaces ``resource.name`` (on this instance only) with a metering wrapper around it.

    The wrapper keeps the method's nature: an ``async def`` stays one; a plain function that returns
    an awaitable (the SDKs' async ``create`` behind their argument-checking decorator) still checks
    its arguments at once and returns an awaitable.
    """
    original = getattr(resource, name, None)
    if original is None or getattr(original, MARK, False):
        return
    if inspect.iscoroutinefunction(original):

        async def metered_coroutine(*args: Any, **kwargs: Any) -> Any:
            call, send = (None, kwargs) if is_raw_response(kwargs) else begin(metering, surface, kwargs)
            if call is None:
                return await original(*args, **kwargs)
            return await _settle_async(original(*args, **send), call)

        wrapper: Callable[..., Any] = functools.wraps(original)(metered_coroutine)
    else:

        def metered(*args: Any, **kwargs: Any) -> Any:
            call, send = (None, kwargs) if is_raw_response(kwargs) else begin(metering, surface, kwargs)
            if call is None:
                return original(*args, **kwargs)
            try:
                result = original(*args, **send)
            except Exception as error:
                call.fail(error)
                raise
            if inspect.isawaitable(result):
                return _settle_async(result, call)
            call.observe(result)
            return result

        wrapper = functools.wraps(original)(metered)
    setattr(wrapper, MARK, True)
    setattr(resource, name, wrapper)


async def _settle_async(awaitable: Awaitable[Any], call: MeteredCall) -> Any:
    try:
        result = await awaitable
    except Exception as error:
        call.fail(error)
        raise
    call.observe(result)
    return result


def unwrap_method(resource: Any, name: str) -> None:
    """Removes a wrapper ``wrap_method`` put on ``resource``."""
    if getattr(resource.__dict__.get(name), MARK, False):
        del resource.__dict__[name]
