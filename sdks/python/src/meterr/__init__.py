"""meterr's Python SDK: report AI API usage to a self-hosted meterr, meter the official ``openai``
and ``anthropic`` clients automatically, or point them at meterr's gateway.

Standard library only; the provider SDKs are used only when you hand them in (or ask for a
gateway client). See docs/sdk-python.md::

    import meterr, openai

    reporter = meterr.Reporter("http://127.0.0.1:8787", "mk_…")
    client = meterr.instrument(openai.OpenAI(), reporter=reporter, team="search")
"""

from ._async_reporter import AsyncReporter
from ._batcher import Counters
from ._events import PROVIDERS, InvalidEvent, Usage, attribution, format_timestamp, new_event_id
from ._gateway import (
    GATEWAY_PATHS,
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    attribution_headers,
    gateway_base_url,
    openai_client,
)
from ._instrument import instrument, uninstrument
from ._reporter import Reporter
from ._version import __version__

__all__ = [
    "AsyncReporter",
    "Counters",
    "GATEWAY_PATHS",
    "InvalidEvent",
    "PROVIDERS",
    "Reporter",
    "Usage",
    "__version__",
    "anthropic_client",
    "async_anthropic_client",
    "async_openai_client",
    "attribution",
    "attribution_headers",
    "format_timestamp",
    "gateway_base_url",
    "instrument",
    "new_event_id",
    "openai_client",
    "uninstrument",
]
