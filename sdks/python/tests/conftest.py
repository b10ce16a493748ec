"""Fixtures: one real meterr and one fake provider for the session, a fresh tag for each test (so a
test reads back only its own events), and reporters that are closed after the test."""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable, Iterator, List

import pytest

import meterr
from servers import REPO, FakeProvider, FixtureServer, MeterrServer


def _binary() -> str:
    binary = os.environ.get("METERR_BINARY") or str(REPO / ".build" / "debug" / "meterr")
    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(
            "no meterr binary at %s: pass one to sdks/python/test.sh, or set METERR_BINARY" % binary
        )
    return binary


@pytest.fixture(scope="session")
def meterr_binary() -> str:
    return _binary()


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def server(meterr_binary: str, fake_provider: FakeProvider) -> Iterator[MeterrServer]:
    """meterr, its gateway's OpenAI and Anthropic upstreams at the fake provider."""
    meterr_server = MeterrServer(meterr_binary, upstream=fake_provider.url)
    yield meterr_server
    meterr_server.stop()


@pytest.fixture
def fixtures() -> Iterator[FixtureServer]:
    fixture_server = FixtureServer()
    yield fixture_server
    fixture_server.stop()


@pytest.fixture
def run_id() -> str:
    """A tag value of this test's own: ``tags={"run": run_id}`` and ``server.events("run=" + run_id)``."""
    return uuid.uuid4().hex[:16]


@pytest.fixture
def make_reporter() -> Iterator[Callable[..., meterr.Reporter]]:
    """Reporters that send fast (flush_interval 50 ms) and are closed after the test."""
    made: List[meterr.Reporter] = []

    def make(url: str, key: str, **settings: Any) -> meterr.Reporter:
        settings.setdefault("flush_interval", 0.05)
        settings.setdefault("close_at_exit", False)
        reporter = meterr.Reporter(url, key, **settings)
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.close(timeout=2)


@pytest.fixture
def reporter(server: MeterrServer, make_reporter: Callable[..., meterr.Reporter]) -> meterr.Reporter:
    return make_reporter(server.url, server.key)
