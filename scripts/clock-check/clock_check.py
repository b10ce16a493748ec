"""Runs a real `meterr serve` under libfaketime and drives it across hostile wall-clock moments (a year
end, the end of a leap day): budget periods and their history, the forecast, key expiry and a webhook
retry, all through the HTTP API, with the fake clock moved while the server runs.

Standard library only. Run by run.sh, which builds the timer fix preloaded in front of libfaketime
(CLOCK_CHECK_TIMER_FIX). Usage: python3 clock_check.py METERR_BINARY
"""
import calendar
import datetime
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
ADMIN_KEY = "mk_clockcheckclockcheck0001"
MODEL = "gpt-4.1"
# gpt-4.1 in the shipped catalog: USD per million tokens.
INPUT_PRICE, OUTPUT_PRICE = 2, 8
NANOS = 1_000_000_000

# Loopback only, never through a proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def utc(text):
    """Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (UTC)."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))


def rfc3339(seconds):
    """meterr's way of printing a time: RFC 3339 UTC with milliseconds."""
    millis = round(seconds * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + ".%03dZ" % (millis % 1000)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def nanos(decimal_text):
    """A meterr money string ("0.010000000") as integer nano-dollars."""
    whole, _, fraction = decimal_text.partition(".")
    return int(whole) * NANOS + int((fraction + "000000000")[:9])


def cost_nanos(input_tokens, output_tokens):
    return (input_tokens * INPUT_PRICE + output_tokens * OUTPUT_PRICE) * 1000


class CheckFailed(Exception):
    pass


class Report:
    """One line per check; the failures are named again at the end."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok    %s%s" % (name, ": " + detail if detail else ""), flush=True)
        else:
            self.failed.append(name)
            print("FAIL  %s: %s" % (name, detail), flush=True)
        return ok


class FakeClock:
    """The libfaketime timestamp file: a relative offset from the real clock, rewritten atomically, so
    the server's fake time lands on a target moment and keeps ticking from there."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.write(0)

    def write(self, offset):
        temporary = self.path + ".tmp"
        with open(temporary, "w") as handle:
            handle.write("%+.3f\n" % offset)
        os.replace(temporary, self.path)
        self.offset = offset

    def set(self, target):
        """Moves the fake clock to `target` (seconds since the epoch)."""
        self.write(round(target - time.time(), 3))

    def advance(self, seconds):
        self.write(self.offset + seconds)

    def now(self):
        """The time the server reads now."""
        return time.time() + self.offset


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class FakeOpenAI(http.server.BaseHTTPRequestHandler):
    """OpenAI chat completions whose usage the caller chooses: a last message `usage IN OUT`."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        words = str(body.get("messages", [{}])[-1].get("content", "")).split()
        prompt, completion = (int(words[1]), int(words[2])) if len(words) == 3 and words[0] == "usage" else (10, 5)
        data = json.dumps({
            "id": "chatcmpl-clock", "object": "chat.completion", "created": int(time.time()),
            "model": "gpt-4.1-2025-04-14",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class WebhookReceiver(http.server.BaseHTTPRequestHandler):
    """Fails the first delivery with a 500 and accepts the rest; keeps every attempt."""

    protocol_version = "HTTP/1.1"
    attempts = []
    lock = threading.Lock()
    clock = None

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.lock:
            self.attempts.append({"real": time.time(), "fake": self.clock.now(), "headers": dict(self.headers.items()),
                                  "body": body})
            status = 500 if len(self.attempts) == 1 else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    @classmethod
    def seen(cls):
        with cls.lock:
            return list(cls.attempts)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Meterr:
    """A `meterr serve` process under libfaketime, on a fresh data directory and a random port.

    It runs under `timeout`, preloaded too: libfaketime 0.9.10 announces its shared memory with
    setenv() in the first process it is loaded into, which moves `environ`, and the Swift runtime
    finds argv by walking back from `environ`, so meterr started directly would see no arguments.
    Started by a preloaded parent it inherits the announcement and leaves `environ` alone. `timeout`
    also bounds the server's life should this check be killed, passes a SIGTERM on, and removes the
    shared memory when it exits.
    """

    LIFETIME = 300

    def __init__(self, binary, workdir, clock, provider_port):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        config = os.path.join(workdir, "meterr.yaml")
        with open(config, "w") as handle:
            handle.write("upstream_allow_hosts: [\"127.0.0.1\"]\n")
        environment = {
            key: value for key, value in os.environ.items()
            if not key.lower().endswith("_proxy") and not key.startswith(("METERR_", "FAKETIME"))
            and not key.endswith("_API_KEY") and key not in ("LD_PRELOAD", "CLOCK_CHECK_TIMER_FIX")
        }
        environment.update({
            "LD_PRELOAD": os.environ["CLOCK_CHECK_TIMER_FIX"] + ":" + LIBFAKETIME,
            "FAKETIME_TIMESTAMP_FILE": clock.path,
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "METERR_ADMIN_KEY": ADMIN_KEY,
            "METERR_OPENAI_BASE_URL": "http://127.0.0.1:%d" % provider_port,
            "OPENAI_API_KEY": "real-openai-key",
            "METERR_LOG_LEVEL": "warning",
        })
        self.log_path = os.path.join(workdir, "meterr.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            ["timeout", str(self.LIFETIME), binary, "serve", "--port", str(self.port),
             "--data", os.path.join(workdir, "data"), "--config", config],
            env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise CheckFailed("meterr exited with status %s:\n%s" % (self.process.returncode, self.log_tail()))
            try:
                self.call("GET", "/healthz", key=None)
                return
            except (OSError, CheckFailed):
                if time.monotonic() > deadline:
                    raise CheckFailed("meterr did not answer /healthz within 30 s:\n" + self.log_tail())
                time.sleep(0.1)

    def log_tail(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as handle:
            return handle.read()[-3000:].decode(errors="replace")

    def call(self, method, path, body=None, key=ADMIN_KEY):
        """(status, headers, parsed JSON or None)."""
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode())
        if key:
            request.add_header("authorization", "Bearer " + key)
        if body is not None:
            request.add_header("content-type", "application/json")
        try:
            with HTTP.open(request, timeout=15) as response:
                status, headers, data = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, data = error.code, error.headers, error.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return status, headers, parsed

    def api(self, method, path, body=None, expect=(200, 201, 204)):
        status, _, parsed = self.call(method, path, body)
        if status not in expect:
            raise CheckFailed("%s %s answered %d: %s" % (method, path, status, parsed))
        return parsed

    def chat(self, key, input_tokens, output_tokens):
        """A gateway call whose usage the fake provider reports as asked: (status, cost in nanos or None)."""
        status, headers, _ = self.call(
            "POST", "/openai/v1/chat/completions", key=key,
            body={"model": MODEL, "max_tokens": max(output_tokens, 16),
                  "messages": [{"role": "user", "content": "usage %d %d" % (input_tokens, output_tokens)}]})
        cost = headers.get("x-meterr-cost-usd")
        return status, nanos(cost) if cost else None

    def budget(self, budget_id):
        return next(b for b in self.api("GET", "/api/budgets")["budgets"] if b["id"] == budget_id)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def wait_for(probe, seconds):
    """Polls `probe` until it returns something truthy, for at most `seconds` (real)."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def ordinal_day(seconds):
    """`the 13th (2027-01-13)`, as meterr names a UTC day."""
    day = time.gmtime(seconds)
    suffix = "th" if 11 <= day.tm_mday % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day.tm_mday % 10, "th")
    return "the %d%s (%s)" % (day.tm_mday, suffix, time.strftime("%Y-%m-%d", day))


def run_moment(report, binary, label, month_start, month_end, next_month_end, ny_start, ny_end):
    """One hostile moment: ten minutes before `month_end` (UTC), across it, and a few hours into the new month."""
    def name(text):
        return "[%s] %s" % (label, text)

    workdir = tempfile.mkdtemp(prefix="meterr-clock-")
    clock = FakeClock(os.path.join(workdir, "faketime.rc"))
    provider = serve(FakeOpenAI)
    receiver = None
    meterr = None
    failed_before = len(report.failed)
    try:
        clock.set(month_end - 600)
        meterr = Meterr(binary, workdir, clock, provider.server_address[1])

        # The server reads the fake clock: the Date header of a plain request.
        _, headers, _ = meterr.call("GET", "/healthz", key=None)
        served = calendar.timegm(time.strptime(headers.get("date", ""), "%a, %d %b %Y %H:%M:%S GMT"))
        report.check(name("server clock follows the fake clock"), abs(served - clock.now()) <= 3,
                     "Date %s, fake now %s" % (headers.get("date"), rfc3339(clock.now())))

        gateway = meterr.api("POST", "/api/keys", {"name": "app", "scopes": ["gateway"]})["key"]
        expires = clock.now() + 300
        expiring = meterr.api("POST", "/api/keys", {
            "name": "short-lived", "scopes": ["gateway"], "expires_at": rfc3339(int(expires))})
        monthly = meterr.api("POST", "/api/budgets", {"name": "monthly", "period": "month", "limit_usd": "100"})
        daily = meterr.api("POST", "/api/budgets", {"name": "daily", "period": "day", "limit_usd": "100"})
        new_york = meterr.api("POST", "/api/budgets", {
            "name": "monthly NY", "period": "month", "time_zone": "America/New_York", "limit_usd": "100"})

        # Calls in the last minutes of the month.
        spent = 0
        for input_tokens, output_tokens in [(100, 20), (200, 40)]:
            status, cost = meterr.chat(gateway, input_tokens, output_tokens)
            if status != 200 or cost != cost_nanos(input_tokens, output_tokens):
                raise CheckFailed("a gateway call answered %d costing %s" % (status, cost))
            spent += cost
        status, cost = meterr.chat(expiring["key"], 300, 60)
        report.check(name("a key expiring in 5 minutes works before its expiry"),
                     status == 200 and cost == cost_nanos(300, 60),
                     "status %d, expires_at %s" % (status, expiring["expires_at"]))
        spent += cost or 0
        # The gateway hands its events to the ledger writer, which commits them a moment later.
        def committed():
            listed = meterr.api("GET", "/api/usage/events?limit=10")["events"]
            return listed if len(listed) >= 3 else None

        events = wait_for(committed, 10) or meterr.api("GET", "/api/usage/events?limit=10")["events"]
        stamps = sorted(parse_time(event["ts"]) for event in events)
        report.check(name("gateway calls are recorded at the fake time"),
                     len(stamps) == 3 and month_end - 600 <= stamps[0] and stamps[-1] <= clock.now() + 1,
                     "%d events, ts %s .. %s" % (len(events), events[-1]["ts"], events[0]["ts"])
                     if events else "no events")

        summary = meterr.api("GET", "/api/usage/summary")
        report.check(name("the usage summary covers this month by default"),
                     summary["from"] == rfc3339(month_start) and summary["totals"]["requests"] == 3
                     and nanos(summary["totals"]["cost_usd"]) == spent,
                     "from %s, %d requests, %s USD" % (summary["from"], summary["totals"]["requests"],
                                                       summary["totals"]["cost_usd"]))
        budget = meterr.budget(monthly["id"])
        report.check(name("the monthly budget counts the month's calls"),
                     nanos(budget["spent_usd"]) == spent and budget["period_start"] == rfc3339(month_start)
                     and budget["resets_at"] == rfc3339(month_end),
                     "spent %s, %s .. %s" % (budget["spent_usd"], budget["period_start"], budget["resets_at"]))
        budget = meterr.budget(daily["id"])
        report.check(name("the daily budget counts the day's calls"),
                     nanos(budget["spent_usd"]) == spent and budget["period_start"] == rfc3339(month_end - 86400)
                     and budget["resets_at"] == rfc3339(month_end),
                     "spent %s, %s .. %s" % (budget["spent_usd"], budget["period_start"], budget["resets_at"]))

        # Across the month end; past the key's expiry.
        clock.set(month_end + 240)
        budget = meterr.budget(monthly["id"])
        report.check(name("the monthly budget starts again at zero in the new month"),
                     nanos(budget["spent_usd"]) == 0 and budget["period_start"] == rfc3339(month_end)
                     and budget["resets_at"] == rfc3339(next_month_end),
                     "spent %s, %s .. %s" % (budget["spent_usd"], budget["period_start"], budget["resets_at"]))
        budget = meterr.budget(daily["id"])
        report.check(name("the daily budget starts again at zero on the 1st"),
                     nanos(budget["spent_usd"]) == 0 and budget["period_start"] == rfc3339(month_end)
                     and budget["resets_at"] == rfc3339(month_end + 86400),
                     "spent %s, %s .. %s" % (budget["spent_usd"], budget["period_start"], budget["resets_at"]))
        budget = meterr.budget(new_york["id"])
        report.check(name("a New York monthly budget still counts the old month (19:04 there)"),
                     nanos(budget["spent_usd"]) == spent and budget["period_start"] == rfc3339(ny_start)
                     and budget["resets_at"] == rfc3339(ny_end),
                     "spent %s, %s .. %s" % (budget["spent_usd"], budget["period_start"], budget["resets_at"]))

        summary = meterr.api("GET", "/api/usage/summary")
        report.check(name("the usage summary starts the new month empty"),
                     summary["from"] == rfc3339(month_end) and summary["totals"]["requests"] == 0,
                     "from %s, %d requests" % (summary["from"], summary["totals"]["requests"]))
        periods = meterr.api("GET", "/api/budgets/%s/history" % monthly["id"])["periods"]
        expected = [("month", rfc3339(month_start), rfc3339(month_end), spent, "100.000000000", False, "ended")]
        found = [(p["period"], p["start"], p["end"], nanos(p["spent_usd"]), p["limit_usd"], p["exceeded"],
                  p["reason"]) for p in periods]
        report.check(name("the finished month is kept in the monthly budget's history"), found == expected,
                     json.dumps(periods))
        periods = meterr.api("GET", "/api/budgets/%s/history" % daily["id"])["periods"]
        found = [(p["start"], p["end"], nanos(p["spent_usd"])) for p in periods]
        report.check(name("the finished last day is kept in the daily budget's history"),
                     found == [(rfc3339(month_end - 86400), rfc3339(month_end), spent)], json.dumps(periods))
        periods = meterr.api("GET", "/api/budgets/%s/history" % new_york["id"])["periods"]
        report.check(name("the New York budget has no finished period yet"), periods == [], json.dumps(periods))

        status, _, body = meterr.call(
            "POST", "/openai/v1/chat/completions", key=expiring["key"],
            body={"model": MODEL, "messages": [{"role": "user", "content": "usage 10 5"}]})
        listed = next(k for k in meterr.api("GET", "/api/keys")["keys"] if k["id"] == expiring["id"])
        report.check(name("the gateway answers 401 once the key has expired"),
                     status == 401 and listed["status"] == "expired",
                     "status %d, key status %s, body %s" % (status, listed["status"], json.dumps(body)))

        # The forecast: three hours into the new month, one call at a pace that crosses a small limit.
        forecast = meterr.api("POST", "/api/budgets", {"name": "forecast", "period": "month", "limit_usd": "1"})
        clock.set(month_end + 3 * 3600)
        called_at = clock.now()
        status, cost = meterr.chat(gateway, 1000, 1000)
        if status != 200:
            raise CheckFailed("the forecast call answered %d" % status)
        limit = NANOS
        exceeds = month_end + limit * (called_at - month_end) / cost
        alerts = wait_for(lambda: [
            a for a in meterr.api("GET", "/api/alerts")["alerts"]
            if a["kind"] == "budget.forecast" and a["subject"] == forecast["id"]], 10)
        message = alerts[0]["message"] if alerts else "no budget.forecast alert"
        report.check(name("a budget.forecast alert names the day the limit would be crossed"),
                     len(alerts) == 1 and ordinal_day(exceeds) in message
                     and abs(parse_time(alerts[0]["created_at"]) - called_at) < 5,
                     "%s (expected %s)" % (message, ordinal_day(exceeds)))
        budget = meterr.budget(forecast["id"])
        projected = budget["projected_to_exceed_at"]
        report.check(name("the budget's projected_to_exceed_at falls on that day"),
                     projected is not None and time.gmtime(parse_time(projected))[:3] == time.gmtime(exceeds)[:3],
                     "projected_to_exceed_at %s, projected_usd %s" % (projected, budget["projected_usd"]))
        others = [a for a in meterr.api("GET", "/api/alerts")["alerts"]
                  if a["kind"] == "budget.forecast" and a["subject"] != forecast["id"]]
        report.check(name("no forecast for budgets on pace"), others == [], json.dumps(others))

        # The webhook retry: the first delivery fails, the retry is made due by moving the clock.
        WebhookReceiver.attempts = []
        WebhookReceiver.clock = clock
        receiver = serve(WebhookReceiver)
        hook = meterr.api("POST", "/api/webhooks", {"url": "http://127.0.0.1:%d/hook" % receiver.server_address[1]})
        # A limit just above this month's spend, which the next call (0.00036 USD) crosses.
        so_far = nanos(meterr.budget(monthly["id"])["spent_usd"])
        tiny = meterr.api("POST", "/api/budgets", {
            "name": "tiny", "period": "month", "limit_usd": "%d.%09d" % divmod(so_far + 200_000, NANOS),
            "thresholds": [100]})
        status, _ = meterr.chat(gateway, 100, 20)
        if status != 200:
            raise CheckFailed("the alerting call answered %d" % status)
        first = wait_for(WebhookReceiver.seen, 10)
        if not report.check(name("the alert reaches the webhook (answered 500)"), len(first) == 1,
                            "%d deliveries" % len(first)):
            raise CheckFailed("no webhook delivery")
        first_at = first[0]["real"]
        # meterr retries after 5 s (and more), so a retry within 4.5 s comes from the clock moved on.
        time.sleep(max(0.0, first_at + 1.5 - time.time()))
        report.check(name("no retry before it is due"), len(WebhookReceiver.seen()) == 1,
                     "%d deliveries 1.5 s after the first" % len(WebhookReceiver.seen()))
        clock.advance(120)
        second = wait_for(lambda: len(WebhookReceiver.seen()) >= 2, first_at + 4.5 - time.time())
        seen = WebhookReceiver.seen()
        report.check(name("moving the clock 2 minutes on makes the retry due at once"), bool(second),
                     "retried %.1f s (real) after the first attempt" % (seen[1]["real"] - first_at)
                     if len(seen) > 1 else "no retry within 4.5 s (real) of the first attempt")
        time.sleep(2)
        seen = WebhookReceiver.seen()
        alert = next((a for a in meterr.api("GET", "/api/alerts")["alerts"]
                      if a["kind"] == "budget.threshold" and a["subject"] == tiny["id"]), None)
        ids = [attempt["headers"].get("x-meterr-delivery") for attempt in seen]
        report.check(name("delivered exactly once more, with the same delivery id"),
                     len(seen) == 2 and alert is not None and ids == [alert["id"], alert["id"]]
                     and seen[0]["body"] == seen[1]["body"],
                     "%d deliveries, ids %s, alert %s" % (len(seen), ids, alert and alert["id"]))
        signatures = []
        for attempt in seen:
            fields = dict(part.split("=", 1) for part in attempt["headers"].get("x-meterr-signature", "").split(",")
                          if "=" in part)
            mac = hmac.new(hook["secret"].encode(), fields.get("t", "").encode() + b"." + attempt["body"],
                           hashlib.sha256).hexdigest()
            signatures.append((int(fields.get("t", 0)), hmac.compare_digest(mac, fields.get("v1", ""))))
        report.check(name("both attempts are signed, at the fake time"),
                     len(signatures) >= 2 and all(valid for _, valid in signatures)
                     and all(abs(t - attempt["fake"]) <= 2 for (t, _), attempt in zip(signatures, seen))
                     and signatures[1][0] - signatures[0][0] >= 120,
                     "t = %s" % [rfc3339(t) for t, _ in signatures])
    except CheckFailed as error:
        report.check(name("scenario"), False, str(error))
    except Exception as error:  # an unexpected answer's shape: name it and go on to the next moment
        report.check(name("scenario"), False, "%s: %s" % (type(error).__name__, error))
    finally:
        if meterr is not None:
            meterr.stop()
            if len(report.failed) > failed_before:
                sys.stdout.write("---- meterr log (%s) ----\n%s\n" % (label, meterr.log_tail()))
        provider.shutdown()
        if receiver is not None:
            receiver.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/meterr")
    if not os.access(binary, os.X_OK):
        sys.exit("clock-check: no meterr binary at %s" % binary)
    if not os.path.exists(LIBFAKETIME):
        sys.exit("clock-check: %s is missing (apt-get install libfaketime)" % LIBFAKETIME)
    if not os.path.exists(os.environ.get("CLOCK_CHECK_TIMER_FIX", "")):
        sys.exit("clock-check: run it through scripts/clock-check/run.sh (CLOCK_CHECK_TIMER_FIX is not set)")
    # A SIGTERM ends the run through the `finally` blocks, so no server or directory is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report()
    started = time.monotonic()
    run_moment(report, binary, "2026-12-31 -> 2027",
               month_start=utc("2026-12-01T00:00:00"), month_end=utc("2027-01-01T00:00:00"),
               next_month_end=utc("2027-02-01T00:00:00"),
               ny_start=utc("2026-12-01T05:00:00"), ny_end=utc("2027-01-01T05:00:00"))
    run_moment(report, binary, "2028-02-29 -> March",
               month_start=utc("2028-02-01T00:00:00"), month_end=utc("2028-03-01T00:00:00"),
               next_month_end=utc("2028-04-01T00:00:00"),
               ny_start=utc("2028-02-01T05:00:00"), ny_end=utc("2028-03-01T05:00:00"))
    print("clock-check took %.0f s" % (time.monotonic() - started))
    if report.failed:
        print("failed: " + "; ".join(report.failed))
    print("%d passed, %d failed" % (report.passed, len(report.failed)))
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
