"""``AsyncReporter`` against a real meterr: delivery from the event loop, reports from other threads,
meterr down then back, closing, and the delivery at interpreter exit after the loop is gone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from typing import Any, Dict

import meterr
from servers import ADMIN_KEY, MeterrServer, free_port


def usage_event(run_id: str, number: int) -> Dict[str, Any]:
    return {
        "id": "%s-%04d" % (run_id, number),
        "provider": "anthropic",
        "model": "claude-sonnet-4-5-20250929",
        "input_tokens": 12,
        "output_tokens": 9,
        "tags": {"run": run_id},
    }


def test_events_reported_in_a_coroutine_are_delivered(server, run_id) -> None:
    async def main() -> meterr.Counters:
        async with meterr.AsyncReporter(server.url, server.key, flush_interval=0.05, close_at_exit=False) as reporter:
            for number in range(30):
                reporter.report(usage_event(run_id, number))
                await asyncio.sleep(0)
            assert await reporter.flush(timeout=30)
            return reporter.counters

    assert asyncio.run(main()) == meterr.Counters(sent=30)
    stored = server.events("run=" + run_id)
    assert len(stored) == 30 and {event["cost_usd"] for event in stored} == {"0.000171000"}


def test_threads_may_report_to_it_while_the_loop_runs(server, run_id) -> None:
    async def main() -> meterr.Counters:
        reporter = meterr.AsyncReporter(server.url, server.key, flush_interval=0.05, close_at_exit=False)
        reporter.report(usage_event(run_id, 0))  # starts the sending task on this loop

        def report_from_a_thread(thread: int) -> None:
            for number in range(1, 51):
                reporter.report(usage_event(run_id, thread * 100 + number))

        threads = [threading.Thread(target=report_from_a_thread, args=(thread,)) for thread in range(4)]
        for thread in threads:
            thread.start()
        await asyncio.get_running_loop().run_in_executor(None, lambda: [thread.join() for thread in threads])
        assert await reporter.aclose(timeout=30)
        return reporter.counters

    assert asyncio.run(main()) == meterr.Counters(sent=201)
    assert len(server.events("run=" + run_id)) == 201


def test_while_meterr_is_down_events_wait_then_flush_delivers_them(meterr_binary, run_id) -> None:
    port = free_port()

    async def main() -> meterr.Counters:
        reporter = meterr.AsyncReporter(
            "http://127.0.0.1:%d" % port, ADMIN_KEY, flush_interval=0.05, initial_backoff=0.05, max_backoff=0.2,
            close_at_exit=False,
        )
        for number in range(12):
            reporter.report(usage_event(run_id, number))
        assert await reporter.flush(timeout=0.5) is False
        assert reporter.counters.pending == 12 and reporter.counters.sent == 0
        later = await asyncio.get_running_loop().run_in_executor(None, MeterrServer, meterr_binary, port)
        try:
            assert await reporter.flush(timeout=60)
            assert len(later.events("run=" + run_id)) == 12
        finally:
            later.stop()
        await reporter.aclose()
        return reporter.counters

    counters = asyncio.run(main())
    assert (counters.sent, counters.dropped, counters.pending) == (12, 0, 0)


def test_aclose_gives_up_when_meterr_stays_down_and_counts_the_loss(run_id) -> None:
    async def main() -> meterr.Counters:
        reporter = meterr.AsyncReporter(
            "http://127.0.0.1:%d" % free_port(), ADMIN_KEY, initial_backoff=0.05, close_at_exit=False
        )
        for number in range(5):
            reporter.report(usage_event(run_id, number))
        assert await reporter.aclose(timeout=0.3) is False
        reporter.report(usage_event(run_id, 9))
        return reporter.counters

    counters = asyncio.run(main())
    assert (counters.dropped, counters.pending, counters.sent) == (6, 0, 0)


def test_what_is_left_when_the_loop_ends_is_delivered_at_exit(server, run_id) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys, meterr

        reporter = meterr.AsyncReporter(sys.argv[1], sys.argv[2], flush_interval=3600)

        async def main():
            for number in range(6):
                reporter.report({"provider": "openai", "model": "gpt-4.1-2025-04-14", "input_tokens": 12,
                                 "output_tokens": 2, "tags": {"run": sys.argv[3]}})

        asyncio.run(main())  # the loop ends with the events still buffered; no aclose()
        """
    )
    subprocess.run([sys.executable, "-c", script, server.url, server.key, run_id], check=True, timeout=120)
    stored = server.events("run=" + run_id)
    assert len(stored) == 6 and {event["cost_usd"] for event in stored} == {"0.000040000"}
