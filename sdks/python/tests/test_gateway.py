"""Gateway helpers: base URLs and attribution headers (no SDK needed), and the official clients they
make, whose calls meterr's gateway records with the key's organisation and the attribution."""

from __future__ import annotations

import asyncio
import builtins
import sys

import pytest

import meterr
from helpers import only

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "provider, path",
    [
        ("openai", "/openai/v1"),
        ("azure", "/azure"),
        ("anthropic", "/anthropic"),
        ("gemini", "/gemini"),
        ("mistral", "/mistral"),
        ("cohere", "/cohere"),
    ],
)
def test_each_provider_has_its_gateway_base_url(provider: str, path: str) -> None:
    assert meterr.gateway_base_url("http://meterr.internal:8787", provider) == "http://meterr.internal:8787" + path
    assert meterr.gateway_base_url("http://meterr.internal:8787/", provider) == "http://meterr.internal:8787" + path
    assert meterr.gateway_base_url("http://meterr.internal:8787" + path, provider) == "http://meterr.internal:8787" + path


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="openai, azure"):
        meterr.gateway_base_url("http://127.0.0.1:8787", "bedrock")


def test_attribution_headers_are_meterrs() -> None:
    assert meterr.attribution_headers() == {}
    assert meterr.attribution_headers(team="search", user="ana", project="beta", tags={"env": "prod", "app": "web"}) == {
        "x-meterr-team": "search",
        "x-meterr-user": "ana",
        "x-meterr-project": "beta",
        "x-meterr-tags": "app=web,env=prod",
    }
    assert meterr.attribution_headers(tags={"query": "a=b"}) == {"x-meterr-tags": "query=a=b"}
    for tags in ({"a,b": "c"}, {"a=b": "c"}, {"a": "b,c"}, {"": "c"}):
        with pytest.raises(ValueError):
            meterr.attribution_headers(tags=tags)


def test_the_client_helpers_say_which_package_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_sdks(name: str, *args: object, **kwargs: object) -> object:
        if name in ("openai", "anthropic"):
            raise ImportError("No module named %r" % name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_sdks)
    for helper, package in (
        (meterr.openai_client, "openai"),
        (meterr.async_openai_client, "openai"),
        (meterr.anthropic_client, "anthropic"),
        (meterr.async_anthropic_client, "anthropic"),
    ):
        with pytest.raises(ImportError, match="needs the %s package.*pip install %s" % (package, package)):
            helper("http://127.0.0.1:8787", "mk_x")


def test_importing_meterr_imports_no_provider_sdk() -> None:
    import subprocess

    code = "import sys, meterr; print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_gateway_clients_send_the_key_and_the_attribution(server, run_id) -> None:
    attribution = dict(team="search", user="ana", project="beta", tags={"run": run_id, "env": "test"})
    openai_client = meterr.openai_client(server.url, server.key, max_retries=0, **attribution)
    anthropic_client = meterr.anthropic_client(server.url, server.key, max_retries=0, **attribution)
    assert str(openai_client.base_url).rstrip("/") == server.url + "/openai/v1"
    assert openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES).usage.prompt_tokens == 1200
    with anthropic_client.messages.stream(model="claude-sonnet-4-5-20250929", max_tokens=64, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello! How can I help?"

    async def async_calls() -> None:
        client = meterr.async_openai_client(server.url, server.key, max_retries=0, **attribution)
        reply = await client.embeddings.create(model="text-embedding-3-small", input="hi", encoding_format="float")
        assert reply.usage.prompt_tokens == 5
        claude = meterr.async_anthropic_client(server.url, server.key, max_retries=0, **attribution)
        message = await claude.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=64, messages=MESSAGES)
        assert message.usage.cache_read_input_tokens == 10000

    asyncio.run(async_calls())
    events = server.wait_for_events("run=" + run_id, 4)
    admin_key = only(server.get("/api/keys")["keys"])
    for event in events:
        assert (event["team"], event["user"], event["project"]) == ("search", "ana", "beta")
        assert event["tags"] == {"run": run_id, "env": "test"}
        assert event["key_id"] == admin_key["id"]
        assert event["cost_usd"] is not None
    assert sorted(event["endpoint"] for event in events) == ["chat.completions", "embeddings", "messages", "messages"]


def test_default_headers_given_to_the_helper_are_kept(server, run_id) -> None:
    client = meterr.openai_client(
        server.url, server.key, team="search", tags={"run": run_id}, default_headers={"x-meterr-project": "override"}
    )
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    event = only(server.wait_for_events("run=" + run_id, 1))
    assert (event["team"], event["project"]) == ("search", "override")
