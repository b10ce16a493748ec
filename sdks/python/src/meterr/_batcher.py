"""The reporters' state: what is buffered, what is in flight, what to do next, and the counters.

``Batcher`` is plain bookkeeping with no threads, clocks or I/O of its own: the thread of
``Reporter`` and the task of ``AsyncReporter`` drive it the same way, under their own lock, and it
is what the tests of batching and retrying reason about. It follows the Swift SDK's reporter.
"""

from __future__ import annotations

import collections
import enum
import random
from dataclasses import dataclass
from typing import Deque, List, NamedTuple, Optional, Union


@dataclass(frozen=True)
class Settings:
    """How a reporter batches, retries and buffers (see ``Reporter`` for each one's meaning)."""

    max_batch_size: int = 100
    max_batch_bytes: int = 512 * 1024
    flush_interval: float = 1.0
    buffer_limit: int = 10_000
    initial_backoff: float = 0.2
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        # meterr takes at most 1,000 events a request.
        object.__setattr__(self, "max_batch_size", max(1, min(self.max_batch_size, 1000)))
        object.__setattr__(self, "max_batch_bytes", max(1, self.max_batch_bytes))
        object.__setattr__(self, "buffer_limit", max(1, self.buffer_limit))
        object.__setattr__(self, "initial_backoff", max(0.001, self.initial_backoff))
        object.__setattr__(self, "max_backoff", max(self.max_backoff, self.initial_backoff))


@dataclass(frozen=True)
class Counters:
    """What a reporter has done so far."""

    #: Events meterr acknowledged (stored now, or already stored by an earlier attempt).
    sent: int = 0
    #: Events put back for another attempt after a delivery failed.
    retried: int = 0
    #: Events that will never be delivered: pushed out of a full buffer, reported after ``close``,
    #: or still buffered when ``close``'s time ran out.
    dropped: int = 0
    #: Events refused for good: invalid before sending, or answered with a 4xx a retry cannot mend.
    rejected: int = 0
    #: Events waiting to be delivered (buffered or in flight).
    pending: int = 0
    #: Delivery attempts that failed (meterr unreachable, 5xx, 408 or 429).
    failed_attempts: int = 0


class Pending(NamedTuple):
    """An event waiting for delivery, already encoded."""

    id: str
    body: bytes
    queued_at: float


class Outcome(enum.Enum):
    """How one delivery attempt ended."""

    DELIVERED = "delivered"
    #: Worth another attempt: meterr unreachable, 5xx, 408, 429.
    FAILED = "failed"
    #: Refused for good: another 4xx.
    REJECTED = "rejected"


@dataclass(frozen=True)
class Delivery:
    """The result of sending one batch."""

    outcome: Outcome
    #: For a 400 that names one event of the batch (``[3].provider``): its index. Only that event
    #: is rejected; the others are sent again.
    bad_index: Optional[int] = None
    #: The wait meterr asked for (``Retry-After``), in seconds.
    retry_after: Optional[float] = None
    #: meterr's error message, for the log.
    message: str = ""


class Send(NamedTuple):
    batch: List[Pending]


class Wait(NamedTuple):
    #: When to look again (a ``time.monotonic()`` value); ``None``: until woken.
    until: Optional[float]


class Stop(NamedTuple):
    pass


Step = Union[Send, Wait, Stop]


def encode_batch(batch: List[Pending]) -> bytes:
    """A batch as the JSON array ``POST /api/usage/events`` takes."""
    return b"[" + b",".join(event.body for event in batch) + b"]"


def backoff(failures: int, settings: Settings, retry_after: Optional[float] = None) -> float:
    """The wait before the next attempt after ``failures`` failures in a row, in seconds.

    Exponential from ``initial_backoff``, capped at ``max_backoff``, with jitter (a random half to
    whole of it) so that many reporters do not retry in step; at least what meterr asked for with
    ``Retry-After`` (itself capped at ``max_backoff``).
    """
    ceiling = min(settings.max_backoff, settings.initial_backoff * 2.0 ** min(max(failures - 1, 0), 30))
    wait = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        wait = max(wait, min(retry_after, settings.max_backoff))
    return wait


class Batcher:
    """Buffers events and decides what to send when. Not thread-safe: its owner holds a lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._queue: Deque[Pending] = collections.deque()
        self._in_flight: List[Pending] = []
        # How many of the oldest in-flight events a full buffer gave up on: dropped if their
        # delivery fails, delivered after all if it succeeds.
        self._in_flight_doomed = 0
        self._retry_not_before: Optional[float] = None
        self._flush_requested = False
        self._stop_deadline: Optional[float] = None
        self._sent = 0
        self._retried = 0
        self._dropped = 0
        self._rejected = 0
        self._failed_attempts = 0
        #: Events still buffered when the stop deadline passed.
        self.dropped_at_stop = 0

    @property
    def pending(self) -> int:
        """Events waiting to be delivered."""
        return len(self._queue) + len(self._in_flight) - self._in_flight_doomed

    @property
    def dropped(self) -> int:
        """Events dropped so far."""
        return self._dropped

    @property
    def counters(self) -> Counters:
        return Counters(
            sent=self._sent,
            retried=self._retried,
            dropped=self._dropped,
            rejected=self._rejected,
            pending=self.pending,
            failed_attempts=self._failed_attempts,
        )

    def reject_unsent(self) -> None:
        """Counts an event refused before it was queued (invalid)."""
        self._rejected += 1

    def enqueue(self, event: Pending) -> bool:
        """Adds an event, dropping the oldest past the buffer limit.

        :returns: whether the sender must be woken (a first event, or a full batch).
        """
        if self._stop_deadline is not None:
            self._dropped += 1
            return False
        self._queue.append(event)
        while self.pending > self.settings.buffer_limit:
            if self._in_flight_doomed < len(self._in_flight):
                self._in_flight_doomed += 1
            else:
                self._queue.popleft()
                self._dropped += 1
        return len(self._queue) == 1 or len(self._queue) >= self.settings.max_batch_size

    def request_flush(self) -> None:
        """Sends what is buffered without waiting for the batch to fill (once the backoff allows)."""
        self._flush_requested = True

    def stop(self, deadline: float) -> None:
        """Delivers what is left until ``deadline``, then drops it; later events are dropped."""
        if self._stop_deadline is None or deadline < self._stop_deadline:
            self._stop_deadline = deadline

    def next_step(self, now: float) -> Step:
        """What the sender does next."""
        if self._in_flight:
            # Another sender (the exit hook of an AsyncReporter whose loop is gone) has a batch out.
            return Wait(None)
        stopping = self._stop_deadline is not None
        if self._stop_deadline is not None and now >= self._stop_deadline:
            self._dropped += len(self._queue)
            self.dropped_at_stop += len(self._queue)
            self._queue.clear()
            return Stop()
        if not self._queue:
            self._flush_requested = False
            return Stop() if stopping else Wait(None)
        if self._retry_not_before is not None and now < self._retry_not_before:
            until = self._retry_not_before
            return Wait(min(until, self._stop_deadline) if self._stop_deadline is not None else until)
        oldest = self._queue[0]
        due = (
            stopping
            or self._flush_requested
            or len(self._queue) >= self.settings.max_batch_size
            or now >= oldest.queued_at + self.settings.flush_interval
        )
        if not due:
            return Wait(oldest.queued_at + self.settings.flush_interval)
        size = 2
        while self._queue and len(self._in_flight) < self.settings.max_batch_size:
            event = self._queue[0]
            if self._in_flight and size + len(event.body) + 1 > self.settings.max_batch_bytes:
                break
            size += len(event.body) + 1
            self._in_flight.append(self._queue.popleft())
        return Send(list(self._in_flight))

    def settle(self, delivery: Delivery, now: float, wait: Optional[float]) -> None:
        """Records how the delivery of the in-flight batch ended.

        :param wait: for a failed delivery, the backoff before the next attempt.
        """
        batch, doomed = self._in_flight, self._in_flight_doomed
        self._in_flight, self._in_flight_doomed = [], 0
        if delivery.outcome is Outcome.DELIVERED:
            self._sent += len(batch)
            self._retry_not_before = None
        elif delivery.outcome is Outcome.REJECTED and delivery.bad_index is not None and 0 <= delivery.bad_index < len(
            batch
        ):
            # One event spoilt the batch: refuse it alone and send the others again at once.
            self._rejected += 1
            rest = [event for index, event in enumerate(batch) if index != delivery.bad_index]
            still_doomed = doomed - (1 if delivery.bad_index < doomed else 0)
            self._dropped += still_doomed
            self._queue.extendleft(reversed(rest[still_doomed:]))
            self._flush_requested = self._flush_requested or bool(rest)
            self._retry_not_before = None
        elif delivery.outcome is Outcome.REJECTED:
            self._rejected += len(batch)
            self._retry_not_before = None
        else:
            self._failed_attempts += 1
            self._dropped += doomed
            retry = batch[doomed:]
            self._retried += len(retry)
            self._queue.extendleft(reversed(retry))
            self._retry_not_before = now + (wait or 0.0)

    def put_back(self) -> None:
        """Returns the in-flight batch to the front of the queue, uncounted (its sender was cancelled)."""
        batch, doomed = self._in_flight, self._in_flight_doomed
        self._in_flight, self._in_flight_doomed = [], 0
        self._dropped += doomed
        self._queue.extendleft(reversed(batch[doomed:]))
