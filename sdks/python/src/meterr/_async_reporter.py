"""``AsyncReporter``: the reporter for asyncio apps, sending from a task on the app's event loop."""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from typing import Any, Iterable, Mapping, Optional

from ._batcher import Counters, Delivery, Outcome, Send, Settings, Stop, Wait
from ._reporter import _Core, _resolve

logger = logging.getLogger("meterr")


class AsyncReporter:
    """``Reporter``'s twin for asyncio: the same batching, retries, buffer and counters.

    ``report(event)`` is a plain method: it only buffers, never blocks or raises, and may be called
    from the event loop or from any thread. The sending runs in a task on the event loop of the
    first ``report`` (or ``flush``) made inside one, each request in the loop's default thread
    executor (urllib), so the loop never waits on meterr. (An app without an event loop wants
    ``Reporter``: here, reports made before any loop uses the reporter wait for one.) Use ``await flush()`` and
    ``await aclose()``, or ``async with AsyncReporter(...) as reporter:``. If the loop ends first
    (``asyncio.run`` returning), what is still buffered is delivered at interpreter exit, without a
    loop, within ``shutdown_timeout``.

    The parameters are ``Reporter``'s.
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
        self._core.add_settle_listener(self._signal)
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._task: "Optional[asyncio.Task[None]]" = None
        self._wake: Optional[asyncio.Event] = None
        self._closed = False
        self._close_at_exit = close_at_exit
        if close_at_exit:
            atexit.register(self._deliver_at_interpreter_exit)

    def report(self, event: Mapping[str, Any]) -> None:
        """Buffers a usage event for delivery and returns at once; never raises. See ``Reporter.report``."""
        try:
            wake = self._core.add(event)
            started = self._ensure_sender()
            if wake and not started:
                self._signal()
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
        """Whether ``aclose()`` was called."""
        return self._closed

    async def flush(self, timeout: float = 10.0) -> bool:
        """Sends what is buffered now and waits until the buffer is empty or ``timeout`` seconds passed.

        :returns: whether the buffer emptied in time (its events delivered, or refused).
        """
        self._core.request_flush()
        self._ensure_sender()
        self._signal()
        return await self._wait_until_empty(timeout)

    async def aclose(self, timeout: Optional[float] = None) -> bool:
        """Delivers what is buffered, trying for ``timeout`` seconds (default ``shutdown_timeout``),
        then drops what is left (counted) and ends the sending task. Later reports are dropped.
        Safe to call more than once.

        :returns: whether everything buffered was delivered (or refused) in time.
        """
        timeout = self.shutdown_timeout if timeout is None else timeout
        self._closed = True
        if self._close_at_exit:
            atexit.unregister(self._deliver_at_interpreter_exit)
        self._core.stop(timeout)
        self._ensure_sender()
        self._signal()
        # An attempt under way when the time runs out may last request_timeout more.
        await self._wait_for_sender(timeout + self._core.request_timeout + 1.0)
        with self._core.condition:
            return self._core.batcher.dropped_at_stop == 0 and self._core.batcher.pending == 0

    async def __aenter__(self) -> "AsyncReporter":
        self._ensure_sender()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return "AsyncReporter(%r, %s)" % (self.url, self.counters)

    # The sending task.

    def _ensure_sender(self) -> bool:
        """Starts the sending task on the running loop when none is alive; says whether it did."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False  # no loop here: the task starts with the next report or flush made in one
        with self._lock:
            if self._task is not None and not self._task.done() and not self._loop_gone():
                return False
            self._loop = loop
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run())
            return True

    def _loop_gone(self) -> bool:
        return self._loop is None or self._loop.is_closed()

    def _signal(self) -> None:
        """Wakes the sending task, from its loop's thread or any other."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed meanwhile
                pass

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake
        assert wake is not None
        while True:
            wake.clear()
            step = self._core.next_step()
            if isinstance(step, Wait):
                timeout = None if step.until is None else max(0.0, step.until - time.monotonic())
                try:
                    await asyncio.wait_for(wake.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
                continue
            if isinstance(step, Stop):
                return
            assert isinstance(step, Send)
            try:
                delivery = await loop.run_in_executor(None, self._core.deliver, step.batch)
            except asyncio.CancelledError:
                # The loop is ending: keep the batch (the exit hook or the next loop sends it).
                self._core.put_back()
                raise
            except Exception as error:  # the executor is shut down, say: try again later
                delivery = Delivery(Outcome.FAILED, message=repr(error))
            self._core.settle(delivery)

    async def _wait_until_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.counters.pending > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not self._sender_alive():
                # No task can run here (a loop that is not ours is sending, or none is): wait in a thread.
                return await asyncio.get_running_loop().run_in_executor(
                    None, self._core.wait_until_empty, remaining
                )
            await asyncio.sleep(min(remaining, 0.01))
        return True

    async def _wait_for_sender(self, timeout: float) -> None:
        task = self._task
        if task is None or task.done():
            return
        if task.get_loop() is asyncio.get_running_loop():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        else:
            await self._wait_until_empty(timeout)

    def _sender_alive(self) -> bool:
        task = self._task
        return task is not None and not task.done() and not self._loop_gone()

    def _deliver_at_interpreter_exit(self) -> None:
        """At exit the loop is usually gone: deliver what is left from this thread, without one."""
        try:
            self._closed = True
            self._core.stop(self.shutdown_timeout)
            if self._sender_alive() and self._loop is not None and self._loop.is_running():
                self._signal()  # a loop still running in another thread delivers it
                self._core.wait_until_empty(self.shutdown_timeout + self._core.request_timeout)
            else:
                # The task cannot settle a batch it had out when its loop stopped: send it again
                # (its ids make that safe).
                self._core.put_back()
                self._core.run_blocking()
        except Exception:
            logger.debug("meterr: delivering at exit failed", exc_info=True)
