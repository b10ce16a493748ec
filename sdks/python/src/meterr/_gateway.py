"""Gateway helpers: the official clients pointed at meterr's gateway, with attribution headers.

For apps that send their calls through meterr (which then meters them itself) instead of
reporting them. ``gateway_base_url`` and ``attribution_headers`` need no SDK; the client helpers
import theirs only when called.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

#: Where each provider's official SDK finds meterr's gateway, below meterr's URL (docs/gateway.md).
GATEWAY_PATHS: Mapping[str, str] = {
    "openai": "/openai/v1",
    "azure": "/azure",
    "anthropic": "/anthropic",
    "gemini": "/gemini",
    "mistral": "/mistral",
    "cohere": "/cohere",
}


def gateway_base_url(meterr_url: str, provider: str) -> str:
    """The base URL to give a provider's official SDK (``base_url``, ``azure_endpoint``, ``server_url``).

    >>> gateway_base_url("http://127.0.0.1:8787", "openai")
    'http://127.0.0.1:8787/openai/v1'
    >>> gateway_base_url("http://127.0.0.1:8787/", "anthropic")
    'http://127.0.0.1:8787/anthropic'

    A URL that already ends with the provider's path is returned as it is.

    :raises ValueError: for a provider meterr's gateway does not serve.
    """
    try:
        path = GATEWAY_PATHS[provider]
    except KeyError:
        raise ValueError("provider must be one of %s, not %r" % (", ".join(GATEWAY_PATHS), provider)) from None
    base = meterr_url.rstrip("/")
    return base if base.endswith(path) else base + path


def attribution_headers(
    *,
    team: Optional[str] = None,
    user: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
) -> Dict[str, str]:
    """The ``x-meterr-*`` headers that bill gateway calls to a team, user, project and tags.

    >>> attribution_headers(team="search", tags={"env": "prod", "app": "web"})
    {'x-meterr-team': 'search', 'x-meterr-tags': 'app=web,env=prod'}

    Tags travel as ``k=v`` pairs in key order, joined by commas, so a tag key may hold neither
    ``,`` nor ``=`` and a value no ``,``. A key bound to a team bills that team whatever they say.

    :raises ValueError: for a tag that cannot travel in the header.
    """
    headers: Dict[str, str] = {}
    for name, value in (("x-meterr-team", team), ("x-meterr-user", user), ("x-meterr-project", project)):
        if value is not None:
            headers[name] = value
    if tags:
        for key, value in tags.items():
            if not key or "," in key or "=" in key or "," in value:
                raise ValueError("tag %r=%r cannot travel in x-meterr-tags (no ',' anywhere, no '=' in keys)" % (key, value))
        headers["x-meterr-tags"] = ",".join("%s=%s" % (key, tags[key]) for key in sorted(tags))
    return headers


def _client_settings(
    provider: str,
    base_url: str,
    key: str,
    team: Optional[str],
    user: Optional[str],
    project: Optional[str],
    tags: Optional[Mapping[str, str]],
    client_kwargs: Dict[str, Any],
) -> Dict[str, Any]:
    headers = attribution_headers(team=team, user=user, project=project, tags=tags)
    headers.update(client_kwargs.pop("default_headers", None) or {})
    return {"base_url": gateway_base_url(base_url, provider), "api_key": key, "default_headers": headers, **client_kwargs}


def _import(package: str, helper: str) -> Any:
    try:
        return __import__(package)
    except ImportError as error:
        raise ImportError(
            "meterr.%s needs the %s package, which is not installed: pip install %s" % (helper, package, package)
        ) from error


def openai_client(
    base_url: str,
    key: str,
    *,
    team: Optional[str] = None,
    user: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
    **client_kwargs: Any,
) -> Any:
    """An ``openai.OpenAI`` client that calls OpenAI through meterr's gateway.

    :param base_url: meterr's URL, e.g. ``http://127.0.0.1:8787``.
    :param key: a meterr key with the ``gateway`` scope; it goes where the SDK sends its API key.
    :param client_kwargs: passed on to ``openai.OpenAI`` (``max_retries``, ``timeout``, …;
        ``default_headers`` are added to the attribution headers).
    """
    openai = _import("openai", "openai_client")
    return openai.OpenAI(**_client_settings("openai", base_url, key, team, user, project, tags, client_kwargs))


def async_openai_client(
    base_url: str,
    key: str,
    *,
    team: Optional[str] = None,
    user: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
    **client_kwargs: Any,
) -> Any:
    """An ``openai.AsyncOpenAI`` client that calls OpenAI through meterr's gateway; see ``openai_client``."""
    openai = _import("openai", "async_openai_client")
    return openai.AsyncOpenAI(**_client_settings("openai", base_url, key, team, user, project, tags, client_kwargs))


def anthropic_client(
    base_url: str,
    key: str,
    *,
    team: Optional[str] = None,
    user: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
    **client_kwargs: Any,
) -> Any:
    """An ``anthropic.Anthropic`` client that calls Anthropic through meterr's gateway; see ``openai_client``."""
    anthropic = _import("anthropic", "anthropic_client")
    return anthropic.Anthropic(**_client_settings("anthropic", base_url, key, team, user, project, tags, client_kwargs))


def async_anthropic_client(
    base_url: str,
    key: str,
    *,
    team: Optional[str] = None,
    user: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
    **client_kwargs: Any,
) -> Any:
    """An ``anthropic.AsyncAnthropic`` client that calls Anthropic through meterr's gateway; see ``openai_client``."""
    anthropic = _import("anthropic", "async_anthropic_client")
    return anthropic.AsyncAnthropic(
        **_client_settings("anthropic", base_url, key, team, user, project, tags, client_kwargs)
    )
