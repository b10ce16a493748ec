"""``Reporter``: sends usage events to meterr in the background, from a daemon thread."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable, Iterable, List, Mapping, Optional, Set

from ._batcher import Batcher, Counters, Delivery, Outcome, Pending, Send, Settings, Step, Stop, Wait
from ._batcher import backoff, encode_batch
from ._events import InvalidEvent, encode_event
from ._transport import Transport

logger = logging.getLogger("meterr")


def _resolve(url: Optional[str], key: Optional[str]) -> "tuple[str, str]":
    url = url or os.environ.get("METERR_URL")
    key = key or os.environ.get("METERR_KEY")
    if not url or not key:
        raise ValueError("a reporter needs meterr's URL and a key with the ingest scope (or METERR_URL and METERR_KEY)")
    return url, key


class _Core:
    """What ``Reporter`` and ``AsyncReporter`` share: the buffer, the lock, the sending and the log.

    Every method is thread-safe. ``run_blocking`` is a whole sender: the thread of ``Reporter``
    runs it, and so does the exit hook of ``AsyncReporter`` once its event loop is gone.
    """

    def __init__(self, url: str, key: str, settings: Settings, request_timeout: float) -> None:
        self.settings = settings
        self.transport = Transport(url, key, request_timeout)
        self.request_timeout = request_timeout
        self.condition = threading.Condition()
        self.batcher = Batcher(settings)
        self._failures_in_a_row = 0
        self._settle_listeners: List[Callable[[], None]] = []
        self._logged: Set[str] = set()

    def reset(self) -> None:
        """Forgets everything: in a forked child, where the parent's lock and buffer are not ours."""
        self.condition = threading.Condition()
        self.batcher = Batcher(self.settings)
        self._failures_in_a_row = 0

    @property
    def counters(self) -> Counters:
        with self.condition:
            return self.batcher.counters

    def add(self, event: Mapping[str, Any]) -> bool:
        """Checks, encodes and buffers an event; says whether the sender must be woken. Never raises."""
        try:
            event_id, body = encode_event(event)
        except InvalidEvent as error:
            with self.condition:
                self.batcher.reject_unsent()
            self._log(logging.WARNING, "meterr: an event was refused before sending: %s", error)
            return False
        except Exception as error:  # a mapping whose items() raised, say: still never the app's problem
            with self.condition:
                self.batcher.reject_unsent()
            self._log(logging.WARNING, "meterr: an event could not be read: %r", error)
            return False
        with self.condition:
            dropped = self.batcher.dropped
            wake = self.batcher.enqueue(Pending(event_id, body, time.monotonic()))
            dropped_now = self.batcher.dropped > dropped
            if wake:
                self.condition.notify_all()
        if dropped_now:
            self._log(logging.WARNING, "meterr: the buffer is full (meterr unreachable?); dropping the oldest events")
        return wake

    def next_step(self) -> Step:
        with self.condition:
            return self.batcher.next_step(time.monotonic())

    def deliver(self, batch: List[Pending]) -> Delivery:
        """Sends a batch (blocking, outside the lock)."""
        return self.transport.send(encode_batch(batch))

    def settle(self, delivery: Delivery) -> None:
        """Records a delivery's outcome and wakes whoever waits for the buffer to empty."""
        with self.condition:
            wait = None
            if delivery.outcome is Outcome.FAILED:
                self._failures_in_a_row += 1
                wait = backoff(self._failures_in_a_row, self.settings, delivery.retry_after)
            else:
                self._failures_in_a_row = 0
            self.batcher.settle(delivery, time.monotonic(), wait)
            self.condition.notify_all()
            listeners = list(self._settle_listeners)
        if delivery.outcome is Outcome.REJECTED:
            self._log(logging.WARNING, "meterr refused a batch of usage events: %s", delivery.message)
        elif delivery.outcome is Outcome.FAILED:
            logger.debug("meterr: delivery failed (%s); retrying in %.2f s", delivery.message, wait or 0.0)
        for listener in listeners:
            listener()

    def put_back(self) -> None:
        """Returns the in-flight batch to the buffer, uncounted: its sender was cancelled."""
        with self.condition:
            self.batcher.put_back()
            self.condition.notify_all()

    def add_settle_listener(self, listener: Callable[[], None]) -> None:
        with self.condition:
            self._settle_listeners.append(listener)

    def request_flush(self) -> None:
        with self.condition:
            self.batcher.request_flush()
            self.condition.notify_all()

    def stop(self, timeout: float) -> None:
        with self.condition:
            self.batcher.stop(time.monotonic() + timeout)
            self.condition.notify_all()

    def wait_until_empty(self, timeout: float) -> bool:
        """Blocks until nothing is pending, or ``timeout`` passed; says whether it emptied."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while self.batcher.pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.condition.wait(remaining)
            return True

    def run_blocking(self) -> None:
        """Sends until stopped: waits for work under the lock (no wake-up is lost), sends outside it."""
        while True:
            with self.condition:
                step = self.batcher.next_step(time.monotonic())
                if isinstance(step, Wait):
                    self.condition.wait(None if step.until is None else max(0.0, step.until - time.monotonic()))
                    continue
                if isinstance(step, Stop):
                    self.condition.notify_all()
                    return
            assert isinstance(step, Send)
            try:
                delivery = self.deliver(step.batch)
            except Exception as error:  # Transport.send never raises; this only guards against a bug
                delivery = Delivery(Outcome.FAILED, message=repr(error))
            self.settle(delivery)

    def _log(self, level: int, message: str, *args: Any) -> None:
        """Logs each distinct problem once at ``level``, and its repeats at DEBUG."""
        text = message % args
        first = text not in self._logged
        if first and len(self._logged) < 100:
            self._logged.add(text)
        logger.log(level if first else logging.DEBUG, text)


_live_reporters: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for reporter in list(_live_reporters):
        reporter._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Reporter:
    """Sends usage events to meterr's ``POST /api/usage/events`` in the background.

    ``report(event)`` only buffers the event: it never blocks, never raises and never fails the
    app's own call. A daemon thread sends batches of up to ``max_batch_size`` events and
    ``max_batch_bytes`` bytes, or what has waited ``flush_interval`` seconds. A batch that fails
    (meterr unreachable, 5xx, 408, 429) is sent again after an exponential backoff with jitter;
    event ids make that safe, as meterr stores each id once. Any other 4xx refuses the batch for
    good (``rejected``), except that a 400 naming one event refuses that event alone.

    While meterr is unreachable, events wait in a buffer of ``buffer_limit``; past it the oldest are
    dropped and counted. ``close()`` (run at interpreter exit unless ``close_at_exit=False``)
    delivers what is buffered within ``shutdown_timeout``.

    :param url: meterr's base URL, e.g. ``http://127.0.0.1:8787`` (default: ``$METERR_URL``).
    :param key: a meterr key with the ``ingest`` scope, ``mk_…`` (default: ``$METERR_KEY``).
    :param max_batch_size: the most events in one request (meterr takes at most 1,000).
    :param max_batch_bytes: the most bytes of JSON in one request (meterr takes 1 MiB by default).
    :param flush_interval: how long an event may wait for its batch to fill, in seconds.
    :param buffer_limit: the most events held while meterr is slow or unreachable.
    :param initial_backoff: the first wait after a failed delivery; it doubles with each failure.
    :param max_backoff: the longest wait between attempts.
    :param request_timeout: how long one delivery may take.
    :param shutdown_timeout: how long ``close()`` keeps trying by default (and at exit).
    :param close_at_exit: whether to ``close()`` when the interpreter exits (``atexit``).
    """

    def __init__(
        self,
        url: Optional[str] = None,
        key: Optional[str] = None,
        *,
        max_batch_size: int = 100,
        max_batch_bytes: int = 512 * 1024,
        flush_interval: float = 1.0,
        buffer_limit: int = 10_000,
        initial_backoff: float = 0.2,
        max_backoff: float = 30.0,
        request_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        close_at_exit: bool = True,
    ) -> None:
        url, key = _resolve(url, key)
        self.url = url.rstrip("/")
        self.shutdown_timeout = shutdown_timeout
        settings = Settings(
            max_batch_size=max_batch_size,
            max_batch_bytes=max_batch_bytes,
            flush_interval=flush_interval,
            buffer_limit=buffer_limit,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        self._core = _Core(self.url, key, settings, request_timeout)
        self._start_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._close_at_exit = close_at_exit
        if close_at_exit:
            atexit.register(self._close_at_interpreter_exit)
        _live_reporters.add(self)

    def report(self, event: Mapping[str, Any]) -> None:
        """Buffers a usage event for delivery and returns at once; never raises.

        ``event`` has the fields of meterr's usage event (``provider``, ``model``, ``input_tokens``,
        ``output_tokens``, …). Without an ``id`` it gets one that sorts by time; without ``ts``,
        now. An invalid event is counted as ``rejected``; after ``close()``, as ``dropped``.
        """
        try:
            self._core.add(event)
            self._ensure_sender()
        except Exception:  # never the app's problem
            logger.debug("meterr: report failed", exc_info=True)

    def report_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Buffers several events; see ``report``."""
        for event in events:
            self.report(event)

    @property
    def counters(self) -> Counters:
        """What the reporter has done so far: sent, retried, dropped, rejected, pending, failed_attempts."""
        return self._core.counters

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def flush(self, timeout: float = 10.0) -> bool:
        """Sends what is buffered now and waits until the buffer is empty or ``timeout`` seconds passed.

        :returns: whether the buffer emptied in time (its events delivered, or refused).
        """
        self._core.request_flush()
        return self._core.wait_until_empty(timeout)

    def close(self, timeout: Optional[float] = None) -> bool:
        """Delivers what is buffered, trying for ``timeout`` seconds (default ``shutdown_timeout``),
        then drops what is left (counted) and ends the thread. Later reports are dropped. Safe to
        call more than once.

        :returns: whether everything buffered was delivered (or refused) in time.
        """
        timeout = self.shutdown_timeout if timeout is None else timeout
        self._closed = True
        if self._close_at_exit:
            atexit.unregister(self._close_at_interpreter_exit)
        self._core.stop(timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # An attempt under way when the time runs out may last request_timeout more.
            thread.join(timeout + self._core.request_timeout + 1.0)
        with self._core.condition:
            return self._core.batcher.dropped_at_stop == 0 and self._core.batcher.pending == 0

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Reporter(%r, %s)" % (self.url, self.counters)

    def _ensure_sender(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._core.run_blocking, name="meterr-reporter", daemon=True)
                thread.start()
                self._thread = thread

    def _forget_after_fork(self) -> None:
        # The parent delivers what it had buffered; the child starts afresh and sends its own.
        self._core.reset()
        self._start_lock = threading.Lock()
        self._thread = None

    def _close_at_interpreter_exit(self) -> None:
        try:
            self.close()
        except Exception:
            logger.debug("meterr: closing at exit failed", exc_info=True)
