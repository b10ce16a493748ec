"""Three meterr nodes on one PostgreSQL database, checked as a company would run them.

Usage: check.py MEERR_BINARY DATABASE_URL WORK_DIR (scripts/nodes-check/run.sh sets it up).
A fake OpenAI answers every chat completion with 5 prompt and max_tokens completion tokens
(`"user": "slow"` makes it wait a minute first)."""
import atexit
import concurrent.futures
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BINARY, DATABASE_URL, WORK = sys.argv[1:4]
ADMIN_KEY = "mk_nodescheck0nodescheck0nodescheck"
MASTER_KEY = "bm9kZXMtY2hlY2sgbWFzdGVyIGtleSwgMzIgYnl0ZXM="  # 32 bytes, base64
HOLD_SECONDS = 5
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeOpenAI(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        if request.get("user") == "slow":
            time.sleep(60)
        body = json.dumps({
            "id": "chatcmpl-nodes", "object": "chat.completion", "created": 1764000000,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": request.get("max_tokens", 100),
                      "total_tokens": 5 + request.get("max_tokens", 100)},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


fake_port = free_port()
fake = http.server.ThreadingHTTPServer(("127.0.0.1", fake_port), FakeOpenAI)
fake.daemon_threads = True
threading.Thread(target=fake.serve_forever, daemon=True).start()

nodes = []  # [port, process]


@atexit.register
def stop_nodes():
    """No node outlives the check, whatever ends it."""
    for _, process in nodes:
        if process.poll() is None:
            process.kill()


def start(index, port):
    env = dict(os.environ, METERR_ADMIN_KEY=ADMIN_KEY, METERR_MASTER_KEY=MASTER_KEY, METERR_LOG_LEVEL="warning",
               METERR_OPENAI_BASE_URL=f"http://127.0.0.1:{fake_port}", OPENAI_API_KEY="sk-fake",
               METERR_BUDGET_HOLD_SECONDS=str(HOLD_SECONDS))
    log = open(os.path.join(WORK, f"node{index}.log"), "ab")
    process = subprocess.Popen(
        [BINARY, "serve", "--port", str(port), "--data", os.path.join(WORK, f"node{index}"),
         "--database-url", DATABASE_URL], env=env, stdout=log, stderr=log)
    return process


def call(node, method, path, body=None, key=ADMIN_KEY, timeout=30):
    request = urllib.request.Request(
        f"http://127.0.0.1:{nodes[node][0]}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_ready(node):
    for _ in range(300):
        try:
            if call(node, "GET", "/readyz", timeout=1)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def chat(node, user="app"):
    return call(node, "POST", "/openai/v1/chat/completions", {
        "model": "gpt-4o-2024-08-06", "max_tokens": 100, "user": user,
        "messages": [{"role": "user", "content": "hi"}]}, timeout=120)[0]


def sql(statement):
    """One value, read as meterr's operator role (row-level security is forced on every table)."""
    out = subprocess.run([os.environ["PSQL"], "-qtA", DATABASE_URL, "-c", "SET ROLE meterr_operator",
                          "-c", statement], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1] if out.strip() else ""


def summary(node, group_by="none"):
    status, body = call(node, "GET", f"/api/usage/summary?group_by={group_by}&from=2000-01-01T00:00:00Z")
    assert status == 200, body
    return body


# Three nodes started at once on a new database: one applies the migrations and bootstraps.
ports = [free_port() for _ in range(3)]
nodes = [[port, start(index, port)] for index, port in enumerate(ports)]
check(all(wait_ready(n) for n in range(3)), "three nodes started at once on one new database are ready")
check(sql("SELECT count(*) FROM organisations") == "1", "they made one organisation between them")

# A hard budget made on node 0 reaches the others within their refresh (5 s).
status, budget = call(0, "POST", "/api/budgets", {"name": "cap", "limit_usd": "0.05", "hard": True})
check(status in (200, 201), f"a hard budget of 0.05 USD is made on node 0 ({status})")
time.sleep(6)

# 300 calls at once, round-robin over the three nodes.
with concurrent.futures.ThreadPoolExecutor(max_workers=60) as pool:
    statuses = list(pool.map(lambda i: chat(i % 3), range(300)))
admitted = statuses.count(200)
time.sleep(1.5)  # the ledger's group commit
spent = float(summary(1)["totals"]["cost_usd"])
per_call = 5 * 2.5e-6 + 100 * 10e-6
print(f"     300 calls: {admitted} admitted, {statuses.count(429)} refused; recorded spend {spent:.9f} USD")
check(set(statuses) <= {200, 429}, f"every call is admitted or refused by the budget ({sorted(set(statuses))})")
check(spent <= 0.05 + 1e-12, f"the recorded spend {spent:.9f} stays within the 0.05 USD limit")
check(abs(spent - admitted * per_call) < 1e-9, "the recorded spend is exactly the admitted calls' cost")
check(spent > 0.05 - 2 * per_call, "the budget is filled to within two calls of its limit")
shown = [float(next(b["spent_usd"] for b in call(n, "GET", "/api/budgets")[1]["budgets"] if b["name"] == "cap"))
         for n in range(3)]
check(all(abs(value - spent) < 1e-9 for value in shown),
      f"every node's budget status shows every node's spend ({', '.join(f'{v:.9f}' for v in shown)})")

# A key revoked on node 0 is refused on nodes 1 and 2 within a second.
status, made = call(0, "POST", "/api/keys", {"name": "temporary", "scopes": ["read"]})
key = made["key"]
check(call(1, "GET", "/api/usage/summary", key=key)[0] == 200, "a new key made on node 0 works on node 1")
check(call(2, "GET", "/api/usage/summary", key=key)[0] == 200, "and on node 2")
revoked_at = time.monotonic()
check(call(0, "DELETE", f"/api/keys/{made['id']}")[0] in (200, 204), "it is revoked on node 0")
time.sleep(max(0.0, 1.0 - (time.monotonic() - revoked_at)))
check(call(1, "GET", "/api/usage/summary", key=key)[0] == 401, "one second later node 1 refuses it")
check(call(2, "GET", "/api/usage/summary", key=key)[0] == 401, "and node 2 refuses it")

# A node killed during a call: its hold is charged in full once it expires.
call(0, "PATCH", f"/api/budgets/{budget['id']}", {"limit_usd": "10"})
time.sleep(6)
# A dashboard open on node 1 shows a call reported to node 2, live; the session works on every node.
call(0, "POST", "/api/users", {"email": "ana@example.com", "role": "admin", "password": "correct horse battery"})
login = urllib.request.Request(
    f"http://127.0.0.1:{nodes[2][0]}/auth/login", method="POST",
    data=json.dumps({"email": "ana@example.com", "password": "correct horse battery"}).encode(),
    headers={"Content-Type": "application/json"})
with urllib.request.urlopen(login, timeout=10) as response:
    cookie = response.headers["Set-Cookie"].split(";")[0]
live = http.client.HTTPConnection("127.0.0.1", nodes[1][0], timeout=10)
live.request("GET", "/events", headers={"Cookie": cookie})
stream = live.getresponse()
check(stream.status == 200, f"a session made on node 2 opens node 1's live stream ({stream.status})")
stream.readline()
time.sleep(1)  # the stream is listening: node 1 starts following the database
reported_at = time.monotonic()
call(2, "POST", "/api/usage/events", {"id": "live-1", "provider": "openai", "model": "gpt-4o-mini",
                                     "input_tokens": 1000, "output_tokens": 10})
seen = ""
while time.monotonic() - reported_at < 5 and "openai/gpt-4o-mini" not in seen:
    seen += stream.readline().decode()
check("event: usage" in seen and "openai/gpt-4o-mini" in seen,
      f"node 1's dashboard shows the call reported to node 2 {time.monotonic() - reported_at:.1f} s later")
live.close()

# A route made on node 0 reaches node 1 within the refresh, and so does its deletion.
def route_names(node):
    return [route["name"] for route in call(node, "GET", "/api/routes")[1]["routes"] if route.get("source") == "api"]


call(0, "PUT", "/api/routes/cheap", {"deployments": ["openai/gpt-4o-mini"]})
time.sleep(6)
check("cheap" in route_names(1), "a route made on node 0 routes calls on node 1 within 6 s")
call(0, "DELETE", "/api/routes/cheap")
time.sleep(6)
check("cheap" not in route_names(1), "and its deletion reaches node 1 within 6 s")

# A rate limit of 30 requests a minute holds across the three: each node admits its share (10).
status, limited = call(0, "POST", "/api/keys", {"name": "limited", "scopes": ["gateway", "read"], "rpm": 30})
with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
    statuses = list(pool.map(
        lambda i: call(i % 3, "POST", "/openai/v1/chat/completions", {
            "model": "gpt-4o-2024-08-06", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]},
            key=limited["key"])[0], range(90)))
print(f"     90 calls at 30 per minute over three nodes: {statuses.count(200)} admitted, {statuses.count(429)} refused")
check(statuses.count(200) == 30 and statuses.count(429) == 60, "the rate limit admits exactly 30 across the nodes")

# A budget far from its limit is spent from leases (a fiftieth of it each), in memory on each node:
# 600 calls at once over the three still never pass it.
call(0, "POST", "/api/teams", {"name": "leased"})
status, team_key = call(0, "POST", "/api/keys", {"name": "leased", "scopes": ["gateway"], "team": "leased"})
call(0, "POST", "/api/budgets", {"name": "leased", "scope": "team", "value": "leased", "limit_usd": "0.5",
                                 "hard": True})
time.sleep(6)
with concurrent.futures.ThreadPoolExecutor(max_workers=60) as pool:
    statuses = list(pool.map(
        lambda i: call(i % 3, "POST", "/openai/v1/chat/completions", {
            "model": "gpt-4o-2024-08-06", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
            key=team_key["key"], timeout=120)[0], range(600)))
time.sleep(1.5)
team_spent = sum(float(group["cost_usd"]) for group in summary(0, "team")["groups"] if group.get("team") == "leased")
print(f"     600 calls on leases: {statuses.count(200)} admitted, {statuses.count(429)} refused; "
      f"spent {team_spent:.9f} of 0.5 USD")
check(team_spent <= 0.5 + 1e-12 and abs(team_spent - statuses.count(200) * per_call) < 1e-9,
      "calls admitted from leases never pass the budget, and are each recorded")

# Idle nodes hand their budget leases back within ten seconds (retired after 5 s, on a 5 s tick).
idle_since = time.monotonic()
while sql("SELECT count(*) FROM budget_holds") != "0" and time.monotonic() - idle_since < 20:
    time.sleep(0.2)
check(sql("SELECT count(*) FROM budget_holds") == "0",
      f"idle nodes hand their budget leases back ({time.monotonic() - idle_since:.1f} s)")
counter_before = int(sql("SELECT coalesce(sum(spent_nanos), 0) FROM budget_counters"))


def slow_call():
    try:
        chat(2, user="slow")
    except OSError:
        pass  # its node is killed under it


threading.Thread(target=slow_call, daemon=True).start()
for _ in range(50):
    if sql("SELECT count(*) FROM budget_holds") == "1":
        break
    time.sleep(0.1)
held = int(sql("SELECT coalesce(sum(amount_nanos), 0) FROM budget_holds"))
check(held > 0, f"a slow call on node 2 takes a lease of the budget ({held} nano-USD)")
nodes[2][1].send_signal(signal.SIGKILL)
nodes[2][1].wait()
killed_at = time.monotonic()
while sql("SELECT count(*) FROM budget_holds") != "0" and time.monotonic() - killed_at < 30:
    time.sleep(0.2)
released = time.monotonic() - killed_at
counter_after = int(sql("SELECT coalesce(sum(spent_nanos), 0) FROM budget_counters"))
check(sql("SELECT count(*) FROM budget_holds") == "0",
      f"after kill -9 of node 2 its lease is charged {released:.1f} s later (expiry {HOLD_SECONDS} s + upkeep tick)")
check(counter_after - counter_before == held, "in full: the counter grew by exactly the lease")

# kill -9 during sustained ingest loses no acknowledged event.
nodes[2][1] = start(2, nodes[2][0])
check(wait_ready(2), "node 2 starts again")
sent, acked, lock, stop = [], [], threading.Lock(), threading.Event()


def ingest(worker):
    batch_number = 0
    while not stop.is_set():
        batch = [{"id": f"ingest-{worker}-{batch_number}-{i}", "ts": "2026-11-20T10:00:00.000Z", "provider": "openai",
                  "model": "gpt-4o-2024-08-06", "input_tokens": 10, "output_tokens": 1, "user": "ingest"}
                 for i in range(100)]
        batch_number += 1
        with lock:
            sent.append(batch)
        try:
            if call(worker % 3, "POST", "/api/usage/events", batch, timeout=10)[0] == 200:
                with lock:
                    acked.extend(event["id"] for event in batch)
        except OSError:
            time.sleep(0.1)  # the killed node: not acknowledged


threads = [threading.Thread(target=ingest, args=(w,)) for w in range(6)]
for thread in threads:
    thread.start()
time.sleep(2)
nodes[2][1].send_signal(signal.SIGKILL)
time.sleep(1)
stop.set()
for thread in threads:
    thread.join()
time.sleep(1.5)


def ingested():
    groups = summary(0, "user")["groups"]
    return sum(group["requests"] for group in groups if group.get("user") == "ingest")


stored = ingested()
print(f"     {len(sent) * 100} events sent, {len(acked)} acknowledged, {stored} stored")
check(stored >= len(acked), "every acknowledged event is stored after kill -9 of a node during ingest")
for batch in sent:  # sending everything again stores each event once
    call(0, "POST", "/api/usage/events", batch)
time.sleep(1.5)
check(ingested() == len(sent) * 100, "sending every batch again leaves each event stored exactly once")

for port, process in nodes:
    process.terminate()
for port, process in nodes:
    process.wait()
fake.shutdown()
if failures:
    print(f"{len(failures)} checks failed", file=sys.stderr)
    sys.exit(1)
print("all node checks passed")
