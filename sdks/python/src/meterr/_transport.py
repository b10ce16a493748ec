"""Sends one batch to meterr's ``POST /api/usage/events`` with urllib, and says how it went."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Optional

from ._batcher import Delivery, Outcome
from ._version import __version__

_RETRIED_STATUSES = frozenset({408, 429})
_EVENT_INDEX = re.compile(r"^(?:events)?\[(\d+)\]")


class Transport:
    """Posts batches to one meterr with one key. Blocking; safe to use from several threads."""

    def __init__(self, url: str, key: str, timeout: float) -> None:
        self.endpoint = url.rstrip("/") + "/api/usage/events"
        self.timeout = timeout
        self._headers = {
            "Authorization": "Bearer " + key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "meterr-python/" + __version__,
        }

    def send(self, body: bytes) -> Delivery:
        """Sends a JSON array of events. Never raises: every failure is an outcome."""
        request = urllib.request.Request(self.endpoint, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            return Delivery(Outcome.DELIVERED)
        except urllib.error.HTTPError as error:
            return _judge(error.code, _read(error), error.headers.get("Retry-After") if error.headers else None)
        except Exception as error:  # unreachable, reset, timed out, TLS: all worth another attempt
            return Delivery(Outcome.FAILED, message="%s: %s" % (type(error).__name__, error))


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except Exception:
        return b""
    finally:
        error.close()


def _judge(status: int, body: bytes, retry_after: Optional[str]) -> Delivery:
    """An error answer: 5xx, 408 and 429 are worth another attempt; other 4xx are final."""
    message, field = _error_message(body)
    if status >= 500 or status in _RETRIED_STATUSES:
        return Delivery(Outcome.FAILED, retry_after=_seconds(retry_after), message="%d %s" % (status, message))
    bad_index = None
    if status == 400 and field:
        match = _EVENT_INDEX.match(field)
        bad_index = int(match.group(1)) if match else None
    return Delivery(Outcome.REJECTED, bad_index=bad_index, message="%d %s" % (status, message))


def _error_message(body: bytes) -> "tuple[str, Optional[str]]":
    """meterr's ``{"error": {"code", "message", "field"}}``, read leniently."""
    try:
        error = json.loads(body.decode("utf-8"))["error"]
        text = "%s: %s" % (error.get("code"), error.get("message"))
        if error.get("field"):
            text += " (%s)" % error["field"]
        return text, error.get("field")
    except Exception:
        return body[:200].decode("utf-8", "replace"), None


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff decides
