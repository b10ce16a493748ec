"""Event ids, timestamps and the checks made before sending (no server needed)."""

from __future__ import annotations

import datetime
import json
import re

import pytest

import meterr
from meterr._events import InvalidEvent, encode_event


def test_event_ids_have_meterrs_shape_and_sort_by_time() -> None:
    moments = [0.0, 1.0, 1.25, 86_400.5, 1_764_000_000.125, 1_764_000_000.25, 4_102_444_800.0]
    ids = [meterr.new_event_id(moment) for moment in moments]
    for event_id in ids:
        assert re.fullmatch(r"evt_[0-9A-Za-z]{22}", event_id), event_id
    assert sorted(ids) == ids
    # Ids made in the same millisecond differ (14 random characters).
    assert len({meterr.new_event_id(5.0) for _ in range(1000)}) == 1000


def test_timestamps_are_rfc3339_utc_with_milliseconds() -> None:
    assert meterr.format_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert meterr.format_timestamp(1_764_410_400.1234) == "2025-11-29T10:00:00.123Z"


def test_an_event_without_id_or_ts_gets_both() -> None:
    event_id, body = encode_event({"provider": "openai", "model": "gpt-4.1", "input_tokens": 3, "output_tokens": 1}, now=0.5)
    sent = json.loads(body)
    assert sent["id"] == event_id and event_id.startswith("evt_")
    assert sent["ts"] == "1970-01-01T00:00:00.500Z"


def test_an_event_keeps_its_own_id_and_an_aware_datetime_becomes_meterrs_form() -> None:
    moment = datetime.datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=datetime.timezone.utc)
    event_id, body = encode_event(
        {"id": "call-1", "ts": moment, "provider": "anthropic", "model": "m", "input_tokens": 0, "output_tokens": 0}
    )
    assert event_id == "call-1"
    assert json.loads(body)["ts"] == "2026-03-01T12:00:00.250Z"


@pytest.mark.parametrize(
    "change, complaint",
    [
        ({"provider": None}, "provider"),
        ({"model": ""}, "model"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": 1.5}, "output_tokens"),
        ({"output_tokens": True}, "output_tokens"),
        ({"cache_read_tokens": 8}, "input_tokens: counts all prompt tokens"),
        ({"cache_write_tokens": 3, "cache_write_1h_tokens": 3}, "input_tokens: counts all prompt tokens"),
        ({"reasoning_tokens": 3}, "output_tokens: includes reasoning tokens"),
        ({"id": ""}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"team": "t" * 257}, "team"),
        ({"tags": {"k": 1}}, "tags"),
        ({"tags": {str(n): "v" for n in range(65)}}, "tags"),
        ({"ts": datetime.datetime(2026, 1, 1)}, "time zone"),
        ({"extra": object()}, "not JSON"),
    ],
)
def test_events_meterr_would_refuse_are_refused_before_sending(change: dict, complaint: str) -> None:
    event = {"provider": "openai", "model": "gpt-4.1", "input_tokens": 5, "output_tokens": 2, **change}
    with pytest.raises(InvalidEvent, match=re.escape(complaint)):
        encode_event(event)


def test_a_non_mapping_is_refused() -> None:
    with pytest.raises(InvalidEvent):
        encode_event(["not", "an", "event"])  # type: ignore[arg-type]


def test_attribution_blocks_nest_and_merge_tags() -> None:
    from meterr._events import current_attribution

    with meterr.attribution(team="search", tags={"env": "prod"}):
        with meterr.attribution(user="ana", tags={"feature": "ask"}):
            inner = current_attribution()
        outer = current_attribution()
    assert (inner.team, inner.user, dict(inner.tags)) == ("search", "ana", {"env": "prod", "feature": "ask"})
    assert (outer.team, outer.user, dict(outer.tags)) == ("search", None, {"env": "prod"})
    assert current_attribution() == meterr._events.Attribution()
