"""``instrument``: automatic metering of the official ``openai`` and ``anthropic`` clients."""

from __future__ import annotations

import functools
import logging
from typing import Any, Mapping, Optional, TypeVar

from ._events import PROVIDERS, Attribution
from ._metering import MARK, Metering

ClientT = TypeVar("ClientT")
logger = logging.getLogger("meterr")

_COPY_METHODS = ("copy", "with_options")


def instrument(
    client: ClientT,
    *,
    reporter: Any,
    team: Optional[str] = None,
    user: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
    provider: Optional[str] = None,
    stream_usage: bool = True,
) -> ClientT:
    """Meters every call the client makes, reporting one usage event per call to ``reporter``.

    Works on ``openai.OpenAI``, ``openai.AsyncOpenAI`` (and the Azure clients) and
    ``anthropic.Anthropic``, ``anthropic.AsyncAnthropic``. Metered: ``chat.completions.create``,
    ``responses.create``, ``embeddings.create``; ``messages.create`` and ``messages.stream``;
    streaming or not. The app sees exactly what it saw before: the same return values and types,
    the same exceptions. Copies made with ``client.with_options(...)`` are metered too.

    :param client: the client to meter (changed in place, and returned).
    :param reporter: a ``Reporter`` or ``AsyncReporter`` (either works with either kind of client).
    :param team: the team the calls are billed to (``meterr.attribution`` overrides it per call).
    :param user: the user; when unset, OpenAI's ``user`` request field, as the gateway reads it.
    :param project: the project.
    :param tags: free-form attribution, ``{"env": "prod"}`` (at most 64).
    :param provider: the ``provider`` of the events; by default ``openai``, ``azure`` for the Azure
        clients, ``anthropic``. Set it for a client pointed at another provider's OpenAI-compatible API
        (``mistral``, say), so that meterr prices the calls as that provider's.
    :param stream_usage: for OpenAI chat streams the app did not ask usage of: ask for it
        (``stream_options.include_usage``) and hide the extra chunk from the app (the default), or
        leave the request alone and report an estimate (``usage_source: "estimated"``).
    :returns: ``client``.
    :raises TypeError: for a client of another kind.
    """
    kind = _kind(client)
    if not callable(getattr(reporter, "report", None)):
        raise TypeError("reporter must be a meterr.Reporter or meterr.AsyncReporter")
    if provider is not None and provider not in PROVIDERS:
        raise ValueError("provider must be one of %s" % ", ".join(PROVIDERS))
    attribution = Attribution(team=team, user=user, project=project, tags=dict(tags or {}))
    if kind == "openai":
        from ._instrument_openai import instrument_openai, provider_of

        instrument_openai(client, Metering(reporter, provider or provider_of(client), attribution), stream_usage)
    else:
        from ._instrument_anthropic import instrument_anthropic

        instrument_anthropic(client, Metering(reporter, provider or "anthropic", attribution))
    _meter_copies(
        client,
        functools.partial(
            instrument,
            reporter=reporter,
            team=team,
            user=user,
            project=project,
            tags=tags,
            provider=provider,
            stream_usage=stream_usage,
        ),
    )
    return client


def uninstrument(client: ClientT) -> ClientT:
    """Stops metering a client that ``instrument`` metered (copies made meanwhile stay metered)."""
    kind = _kind(client)
    if kind == "openai":
        from ._instrument_openai import uninstrument_openai

        uninstrument_openai(client)
    else:
        from ._instrument_anthropic import uninstrument_anthropic

        uninstrument_anthropic(client)
    for name in _COPY_METHODS:
        if getattr(vars(client).get(name), MARK, False):
            delattr(client, name)
    return client


def _kind(client: Any) -> str:
    package = type(client).__module__.partition(".")[0]
    if package == "openai":
        import openai

        if isinstance(client, (openai.OpenAI, openai.AsyncOpenAI)):
            return "openai"
    elif package == "anthropic":
        import anthropic

        if isinstance(client, (anthropic.Anthropic, anthropic.AsyncAnthropic)):
            return "anthropic"
    raise TypeError(
        "meterr.instrument meters openai.OpenAI, openai.AsyncOpenAI, anthropic.Anthropic and "
        "anthropic.AsyncAnthropic clients, not %s.%s" % (type(client).__module__, type(client).__qualname__)
    )


def _meter_copies(client: Any, meter: Any) -> None:
    """``client.copy()`` and ``client.with_options()`` return new clients: meter them the same way."""
    for name in _COPY_METHODS:
        original = getattr(client, name, None)
        if original is not None and not getattr(original, MARK, False):
            setattr(client, name, _metering_copies(original, meter))


def _metering_copies(original: Any, meter: Any) -> Any:
    @functools.wraps(original)
    def copy(*args: Any, **kwargs: Any) -> Any:
        new_client = original(*args, **kwargs)
        try:
            meter(new_client)
        except Exception:
            logger.debug("meterr: could not meter a copy of a client", exc_info=True)
        return new_client

    setattr(copy, MARK, True)
    return copy
