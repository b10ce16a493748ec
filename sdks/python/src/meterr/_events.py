"""Usage events: ids, timestamps, token counts, attribution, and the checks meterr makes on arrival.

An event is a plain ``dict`` with the keys of meterr's usage event (``docs/api.md``, "The usage
event"). This module turns what the app or an instrumented client gives into the JSON line the
reporter sends, refusing what meterr would refuse, so that one bad event is caught before it can
spoil a batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

#: The providers meterr prices (the ``provider`` of an event).
PROVIDERS = ("openai", "azure", "anthropic", "gemini", "mistral", "cohere")

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_COUNT_FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)
_NAME_FIELDS = (
    "team",
    "user",
    "project",
    "key_id",
    "model_requested",
    "endpoint",
    "price_id",
    "request_id",
    "upstream_request_id",
    "route",
)


class InvalidEvent(ValueError):
    """An event meterr would refuse; the reporter counts it as ``rejected`` instead of sending it."""


def new_event_id(now: Optional[float] = None) -> str:
    """A new event id that sorts by time, as meterr's own ids do.

    ``evt_``, then the Unix time in milliseconds as eight base-62 digits (in order until the year
    8900), then 14 random base-62 characters. Ids made in a later millisecond sort after earlier
    ones, so events land at the end of the ledger's index rather than on a random page of it.

    :param now: the time to encode, in seconds since the epoch (default: now).
    """
    milliseconds = int((time.time() if now is None else now) * 1000)
    digits = []
    for _ in range(8):
        milliseconds, digit = divmod(milliseconds, 62)
        digits.append(_ALPHABET[digit])
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(14))
    return "evt_" + "".join(reversed(digits)) + random_part


def format_timestamp(seconds: float) -> str:
    """RFC 3339 UTC with milliseconds, the form meterr stores: ``2026-11-29T10:00:00.123Z``."""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


@dataclass(frozen=True)
class Usage:
    """A call's token counts, normalised the way meterr prices them.

    ``input_tokens`` counts ALL prompt tokens (uncached + cache reads + cache writes); the cache
    counts are parts of it. ``output_tokens`` includes ``reasoning_tokens``.
    """

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def as_fields(self) -> Dict[str, int]:
        """The counts as event fields."""
        return {name: getattr(self, name) for name in _COUNT_FIELDS}


@dataclass(frozen=True)
class Attribution:
    """Who a call is billed to, below the meterr key's organisation."""

    team: Optional[str] = None
    user: Optional[str] = None
    project: Optional[str] = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def overlaid(self, other: "Attribution") -> "Attribution":
        """This attribution with what ``other`` sets taking precedence (tags are merged)."""
        return Attribution(
            team=other.team if other.team is not None else self.team,
            user=other.user if other.user is not None else self.user,
            project=other.project if other.project is not None else self.project,
            tags={**self.tags, **other.tags},
        )


_current_attribution: contextvars.ContextVar[Attribution] = contextvars.ContextVar(
    "meterr_attribution", default=Attribution()
)


@contextlib.contextmanager
def attribution(
    *,
    team: Optional[str] = None,
    user: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
) -> Iterator[Attribution]:
    """Bills the instrumented calls made inside the block to this team, user, project and tags.

    What it sets takes precedence over what ``instrument`` was given; tags are merged. Blocks nest,
    and each thread and asyncio task sees its own (the value lives in a ``contextvars`` variable)::

        with meterr.attribution(user=request.user_id, tags={"feature": "search"}):
            client.chat.completions.create(...)
    """
    overlay = Attribution(team=team, user=user, project=project, tags=dict(tags or {}))
    token = _current_attribution.set(_current_attribution.get().overlaid(overlay))
    try:
        yield _current_attribution.get()
    finally:
        _current_attribution.reset(token)


def current_attribution() -> Attribution:
    """The attribution the enclosing ``meterr.attribution`` blocks set (empty outside any)."""
    return _current_attribution.get()


def encode_event(event: Mapping[str, Any], now: Optional[float] = None) -> Tuple[str, bytes]:
    """Checks an event and encodes it as the JSON the reporter sends.

    Fills in what the app may leave out: an ``id`` (one that sorts by time: a retried batch is only
    safe with ids) and ``ts`` (now). A ``ts`` given as a ``datetime`` is written in meterr's form.

    :returns: the event's id and its JSON.
    :raises InvalidEvent: when meterr would refuse the event.
    """
    if not isinstance(event, Mapping):
        raise InvalidEvent("an event is a mapping of usage event fields, not %s" % type(event).__name__)
    moment = time.time() if now is None else now
    fields = dict(event)
    if fields.get("id") is None:
        fields["id"] = new_event_id(moment)
    ts = fields.get("ts")
    if ts is None:
        fields["ts"] = format_timestamp(moment)
    elif isinstance(ts, datetime.datetime):
        if ts.tzinfo is None:
            raise InvalidEvent("ts: a datetime must carry its time zone")
        fields["ts"] = format_timestamp(ts.timestamp())
    _check(fields)
    try:
        line = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidEvent("the event is not JSON: %s" % error) from None
    return fields["id"], line.encode("utf-8")


def _check(fields: Mapping[str, Any]) -> None:
    """The checks meterr makes on arrival that can be made here."""
    event_id = fields["id"]
    if not isinstance(event_id, str) or not 1 <= len(event_id.encode("utf-8")) <= 128:
        raise InvalidEvent("id: must be a string of 1 to 128 characters")
    if not isinstance(fields.get("ts"), str):
        raise InvalidEvent("ts: must be an RFC 3339 time such as 2026-11-29T10:45:58.123Z")
    provider = fields.get("provider")
    if not isinstance(provider, str) or not provider:
        raise InvalidEvent("provider: required, one of " + ", ".join(PROVIDERS))
    model = fields.get("model")
    if not isinstance(model, str) or not 1 <= len(model.encode("utf-8")) <= 256:
        raise InvalidEvent("model: required, 1 to 256 characters")
    counts = {}
    for name in _COUNT_FIELDS:
        value = fields.get(name)
        if value is None and name not in ("input_tokens", "output_tokens"):
            value = 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidEvent("%s: must be a whole number, not negative (got %r)" % (name, value))
        counts[name] = value
    parts = counts["cache_read_tokens"] + counts["cache_write_tokens"] + counts["cache_write_1h_tokens"]
    if parts > counts["input_tokens"]:
        raise InvalidEvent(
            "input_tokens: counts all prompt tokens and must be at least cache_read_tokens + "
            "cache_write_tokens + cache_write_1h_tokens (got %d)" % counts["input_tokens"]
        )
    if counts["reasoning_tokens"] > counts["output_tokens"]:
        raise InvalidEvent(
            "output_tokens: includes reasoning tokens and must be at least reasoning_tokens (got %d)"
            % counts["output_tokens"]
        )
    for name in _NAME_FIELDS:
        value = fields.get(name)
        if value is not None and (not isinstance(value, str) or len(value.encode("utf-8")) > 256):
            raise InvalidEvent("%s: must be a string of at most 256 characters" % name)
    tags = fields.get("tags")
    if tags is not None:
        if not isinstance(tags, Mapping) or len(tags) > 64:
            raise InvalidEvent("tags: a mapping of at most 64 string tags")
        for key, value in tags.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidEvent("tags: keys and values must be strings")
            if not 1 <= len(key.encode("utf-8")) <= 128 or len(value.encode("utf-8")) > 256:
                raise InvalidEvent("tags: keys must be 1 to 128 characters and values at most 256")
