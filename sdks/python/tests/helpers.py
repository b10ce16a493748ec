"""Assertions the tests share."""

from __future__ import annotations

from typing import Any, Dict, List

#: The fields that must be equal for a call metered by the SDK and the same call through the gateway.
PARITY_FIELDS = (
    "provider",
    "model",
    "endpoint",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "price_id",
    "usage_source",
    "stream",
    "status",
)


def only(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The single event of a list that must hold exactly one."""
    assert len(events) == 1, "expected exactly one event, got %d: %r" % (len(events), events)
    return events[0]


def facts(event: Dict[str, Any]) -> Dict[str, Any]:
    return {name: event[name] for name in PARITY_FIELDS}


def usage_of(event: Dict[str, Any]) -> Dict[str, Any]:
    """An event's model, token counts, cost and source: what the fixture tables state."""
    names = (
        "model",
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cost_usd",
        "usage_source",
    )
    return {name: event[name] for name in names}


def expected_usage(model: str, cost: str, source: str = "reported", **counts: int) -> Dict[str, Any]:
    usage: Dict[str, Any] = {
        "model": model,
        "input_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": cost,
        "usage_source": source,
    }
    usage.update(counts)
    return usage
