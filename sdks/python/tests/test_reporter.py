"""``Reporter`` against a real meterr: delivery, batching, retries, rejections, the buffer while
meterr is down, closing, and the flush at interpreter exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from typing import Any, Callable, Dict, Iterator

import pytest

import meterr
from helpers import only
from servers import ADMIN_KEY, IngestProxy, MeterrServer, free_port


def usage_event(run_id: str, number: int = 0, **fields: Any) -> Dict[str, Any]:
    event: Dict[str, Any] = {
        "id": "%s-%04d" % (run_id, number),
        "provider": "openai",
        "model": "gpt-4.1-2025-04-14",
        "input_tokens": 1200,
        "cache_read_tokens": 1024,
        "output_tokens": 8,
        "tags": {"run": run_id},
    }
    event.update(fields)
    return event


@pytest.fixture
def proxy_to(server: MeterrServer) -> Iterator[Callable[..., IngestProxy]]:
    proxies = []

    def make(*script: Any) -> IngestProxy:
        proxy = IngestProxy(server.url, list(script))
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


def test_reported_events_are_stored_as_given_and_priced_by_meterr(server, reporter, run_id) -> None:
    reporter.report(usage_event(run_id, team="search", user="ana", project="beta", endpoint="chat.completions"))
    assert reporter.flush(timeout=30)
    stored = only(server.events("run=" + run_id))
    assert stored["id"] == run_id + "-0000"
    assert (stored["team"], stored["user"], stored["project"]) == ("search", "ana", "beta")
    assert (stored["input_tokens"], stored["cache_read_tokens"], stored["output_tokens"]) == (1200, 1024, 8)
    # 176 uncached at $2/M + 1,024 cached at $0.50/M + 8 output at $8/M, the sdk-check's number.
    assert stored["cost_usd"] == "0.000928000"
    assert reporter.counters == meterr.Counters(sent=1)


def test_events_without_id_or_ts_get_time_ordered_ids(server, reporter, run_id) -> None:
    for number in range(3):
        event = usage_event(run_id, number)
        del event["id"]
        reporter.report(event)
    assert reporter.flush(timeout=30)
    stored = server.events("run=" + run_id)
    assert len(stored) == 3
    assert all(event["id"].startswith("evt_") for event in stored)


def test_report_never_raises_and_counts_what_it_refuses(server, reporter, run_id) -> None:
    reporter.report(None)  # type: ignore[arg-type]
    reporter.report({"provider": "openai"})
    reporter.report(usage_event(run_id, 1, output_tokens=-3))
    reporter.report(usage_event(run_id, 2, cache_read_tokens=5000))
    reporter.report(usage_event(run_id, 3))
    assert reporter.flush(timeout=30)
    assert reporter.counters == meterr.Counters(sent=1, rejected=4)
    assert [event["id"] for event in server.events("run=" + run_id)] == [run_id + "-0003"]


def test_a_batch_meterr_refuses_is_counted_and_not_retried(server, make_reporter, proxy_to, run_id) -> None:
    proxy = proxy_to()
    reporter = make_reporter(proxy.url, server.key)
    reporter.report(usage_event(run_id, 0, provider="acme"))  # meterr knows no such provider: 400
    assert reporter.flush(timeout=30)
    assert reporter.counters == meterr.Counters(rejected=1)
    assert proxy.batches == [1], "a refused batch must not be sent again"
    assert server.events("run=" + run_id) == []


def test_one_bad_event_does_not_spoil_its_batch(server, make_reporter, proxy_to, run_id) -> None:
    proxy = proxy_to()
    reporter = make_reporter(proxy.url, server.key, flush_interval=60)
    for number in range(5):
        reporter.report(usage_event(run_id, number, **({"provider": "acme"} if number == 2 else {})))
    assert reporter.flush(timeout=30)
    assert reporter.counters == meterr.Counters(sent=4, rejected=1)
    assert proxy.batches == [5, 4]
    assert sorted(event["id"] for event in server.events("run=" + run_id)) == [
        "%s-%04d" % (run_id, number) for number in (0, 1, 3, 4)
    ]


def test_a_wrong_key_is_a_rejection_not_a_retry(server, make_reporter, run_id) -> None:
    reporter = make_reporter(server.url, "mk_notakeymeterrknowsnotakey00")
    reporter.report(usage_event(run_id))
    assert reporter.flush(timeout=30)
    assert reporter.counters == meterr.Counters(rejected=1)


def test_batches_respect_the_count_and_byte_limits(server, make_reporter, proxy_to, run_id) -> None:
    proxy = proxy_to()
    reporter = make_reporter(proxy.url, server.key, max_batch_size=10, max_batch_bytes=4096, flush_interval=60)
    padding = {name: "x" * 250 for name in "abcd"}  # each event is about 1.3 KB: at most 3 fit in 4 KiB
    for number in range(12):
        reporter.report(usage_event(run_id, number, tags={"run": run_id, **padding}))
    for number in range(12, 37):
        reporter.report(usage_event(run_id, number))
    assert reporter.flush(timeout=30)
    assert sum(proxy.batches) == 37 and reporter.counters == meterr.Counters(sent=37)
    assert max(proxy.batches) <= 10
    assert all(size <= 4096 for size in proxy.bodies)
    assert len(server.events("run=" + run_id)) == 37


def test_failed_deliveries_are_retried_with_backoff_until_meterr_takes_them(
    server, make_reporter, proxy_to, run_id
) -> None:
    proxy = proxy_to(503, 429, 500)
    reporter = make_reporter(proxy.url, server.key, initial_backoff=0.01, max_backoff=0.05)
    reporter.report_many(usage_event(run_id, number) for number in range(3))
    assert reporter.flush(timeout=30)
    counters = reporter.counters
    assert (counters.sent, counters.failed_attempts, counters.pending, counters.dropped) == (3, 3, 0, 0)
    assert counters.retried >= 3
    assert len(server.events("run=" + run_id)) == 3


def test_a_lost_answer_is_retried_and_meterr_stores_the_events_once(server, make_reporter, proxy_to, run_id) -> None:
    proxy = proxy_to("drop")  # meterr stores the batch, the reporter sees a 503
    reporter = make_reporter(proxy.url, server.key, initial_backoff=0.01, flush_interval=60)
    reporter.report_many(usage_event(run_id, number) for number in range(4))
    assert reporter.flush(timeout=30)
    assert proxy.batches == [4, 4]
    assert reporter.counters.sent == 4 and reporter.counters.failed_attempts == 1
    assert len(server.events("run=" + run_id)) == 4


def test_while_meterr_is_down_events_wait_and_are_all_delivered_when_it_is_back(
    meterr_binary, make_reporter, run_id
) -> None:
    port = free_port()
    reporter = make_reporter("http://127.0.0.1:%d" % port, ADMIN_KEY, initial_backoff=0.05, max_backoff=0.2)
    reporter.report_many(usage_event(run_id, number) for number in range(25))
    assert reporter.flush(timeout=0.5) is False
    counters = reporter.counters
    assert counters.pending == 25 and counters.sent == 0 and counters.dropped == 0
    later = MeterrServer(meterr_binary, port=port)
    try:
        assert reporter.flush(timeout=60)
        assert reporter.counters.sent == 25 and reporter.counters.dropped == 0
        assert len(later.events("run=" + run_id)) == 25
    finally:
        later.stop()


def test_a_full_buffer_drops_the_oldest_and_counts_them(meterr_binary, make_reporter, run_id) -> None:
    port = free_port()
    later = None
    reporter = make_reporter(
        "http://127.0.0.1:%d" % port, ADMIN_KEY, buffer_limit=5, flush_interval=3600, initial_backoff=0.05
    )
    try:
        reporter.report_many(usage_event(run_id, number) for number in range(8))
        assert reporter.counters == meterr.Counters(dropped=3, pending=5)
        later = MeterrServer(meterr_binary, port=port)
        assert reporter.flush(timeout=60)
        assert reporter.counters == meterr.Counters(sent=5, dropped=3)
        stored = sorted(event["id"] for event in later.events("run=" + run_id))
        assert stored == ["%s-%04d" % (run_id, number) for number in range(3, 8)]
    finally:
        if later is not None:
            later.stop()


def test_threads_report_at_once_and_every_event_arrives_once(server, reporter, run_id) -> None:
    def report(thread: int) -> None:
        for number in range(150):
            reporter.report(usage_event(run_id, thread * 1000 + number))

    threads = [threading.Thread(target=report, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reporter.flush(timeout=60)
    assert reporter.counters == meterr.Counters(sent=1200)
    stored = server.events("run=" + run_id)
    assert len({event["id"] for event in stored}) == len(stored) == 1200


def test_close_delivers_what_is_buffered_and_later_reports_are_dropped(server, make_reporter, run_id) -> None:
    reporter = make_reporter(server.url, server.key, flush_interval=3600)
    reporter.report_many(usage_event(run_id, number) for number in range(3))
    assert reporter.close(timeout=30) is True
    reporter.report(usage_event(run_id, 99))
    assert reporter.counters == meterr.Counters(sent=3, dropped=1)
    assert reporter.close() is True  # again: harmless
    assert len(server.events("run=" + run_id)) == 3


def test_close_gives_up_when_meterr_stays_down_and_counts_the_loss(make_reporter, run_id) -> None:
    reporter = make_reporter("http://127.0.0.1:%d" % free_port(), "mk_unused", initial_backoff=0.05)
    reporter.report_many(usage_event(run_id, number) for number in range(4))
    assert reporter.close(timeout=0.3) is False
    assert reporter.counters.dropped == 4 and reporter.counters.pending == 0


def test_what_is_buffered_is_delivered_when_the_interpreter_exits(server, run_id) -> None:
    script = textwrap.dedent(
        """
        import sys, meterr
        reporter = meterr.Reporter(sys.argv[1], sys.argv[2], flush_interval=3600)
        for number in range(7):
            reporter.report({"provider": "anthropic", "model": "claude-sonnet-4-5-20250929",
                             "input_tokens": 12, "output_tokens": 9, "tags": {"run": sys.argv[3]}})
        # no close(): the atexit hook delivers them
        """
    )
    subprocess.run([sys.executable, "-c", script, server.url, server.key, run_id], check=True, timeout=120)
    stored = server.events("run=" + run_id)
    assert len(stored) == 7
    assert {event["cost_usd"] for event in stored} == {"0.000171000"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_reports_on_its_own(server, run_id) -> None:
    script = textwrap.dedent(
        """
        import os, sys, warnings, meterr
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads: the case at hand
        event = {"provider": "openai", "model": "gpt-4.1-2025-04-14", "input_tokens": 12, "output_tokens": 2,
                 "tags": {"run": sys.argv[3]}}
        reporter = meterr.Reporter(sys.argv[1], sys.argv[2], flush_interval=3600)
        reporter.report_many([event, event])  # the parent's sending thread is running, these are buffered
        child = os.fork()
        if child == 0:
            reporter.report_many([event, event, event])
            delivered = reporter.close(timeout=30)
            print("child", delivered, reporter.counters.sent, flush=True)
            os._exit(0)
        os.waitpid(child, 0)
        print("parent", reporter.close(timeout=30), reporter.counters.sent, flush=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, server.url, server.key, run_id], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["child True 3", "parent True 2"]
    assert len(server.events("run=" + run_id)) == 5
