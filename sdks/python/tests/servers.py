"""The processes and small servers the tests talk to: a real ``meterr serve``, the repository's fake
provider, a fixture server for the answers the fake provider does not give, and a proxy in front
of meterr that can fail on purpose and counts what passes."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "Tests" / "MeterrProvidersTests" / "Fixtures"
FAKE_PROVIDER = REPO / "scripts" / "sdk-check" / "fake_provider.py"
ADMIN_KEY = "mk_pythonsdktestpythonsdktest01"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls ``condition`` until it holds; fails with ``what`` after ``timeout`` seconds (a bound
    on how long a broken test may hang, never a claim about speed)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except Exception:
        return False


class Process:
    """A child process with its output in a log file, stopped for good by ``stop``."""

    def __init__(self, argv: List[str], env: Dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = open(log, "wb")
        self.popen = subprocess.Popen(argv, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class MeterrServer:
    """A real ``meterr serve`` on a loopback port with its own data directory, its gateway pointed at
    ``upstream`` (the fake provider) for OpenAI and Anthropic."""

    def __init__(self, binary: str, port: Optional[int] = None, upstream: Optional[str] = None) -> None:
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.key = ADMIN_KEY
        self.data = Path(tempfile.mkdtemp(prefix="meterr-py-sdk-"))
        env = dict(os.environ, METERR_ADMIN_KEY=ADMIN_KEY, METERR_LOG_LEVEL="warning")
        if upstream:
            for provider in ("OPENAI", "AZURE", "ANTHROPIC", "GEMINI", "MISTRAL", "COHERE"):
                env["METERR_%s_BASE_URL" % provider] = upstream
                env["%s_API_KEY" % provider] = "real-%s-key" % provider.lower()
            env["AZURE_OPENAI_API_KEY"] = "real-azure-key"
        self.process = Process(
            [binary, "serve", "--port", str(self.port), "--data", str(self.data)], env, self.data / "meterr.log"
        )
        try:
            deadline = time.monotonic() + 60
            while not _answers(self.url + "/healthz"):
                if self.process.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("meterr did not start:\n" + self.process.output())
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    def get(self, path: str, **query: Any) -> Any:
        request = urllib.request.Request(
            self.url + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else ""),
            headers={"Authorization": "Bearer " + self.key},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def events(self, tag: Optional[str] = None, **query: Any) -> List[Dict[str, Any]]:
        """Every stored event (with ``tag="k=v"``: those tagged so), newest first, all pages."""
        if tag is not None:
            query["tag"] = tag
        events: List[Dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get("/api/usage/events", limit=1000, **query, **({"cursor": cursor} if cursor else {}))
            events.extend(page["events"])
            cursor = page["next_cursor"]
            if not cursor:
                return events

    def wait_for_events(self, tag: str, count: int, timeout: float = 20.0) -> List[Dict[str, Any]]:
        """The events tagged ``tag`` once there are ``count`` (the gateway records after it answers)."""
        found: List[Dict[str, Any]] = []

        def enough() -> bool:
            found[:] = self.events(tag)
            return len(found) >= count

        wait_until(enough, timeout, "%d events tagged %s (have %d)" % (count, tag, len(found)))
        return found


class FakeProvider:
    """The repository's fake provider (scripts/sdk-check/fake_provider.py): every provider's paths,
    answered with the recorded fixtures, streaming when asked."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        log = Path(tempfile.mkdtemp(prefix="meterr-fake-provider-")) / "fake.log"
        self.process = Process([sys.executable, str(FAKE_PROVIDER), str(self.port)], dict(os.environ), log)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the fake provider did not start:\n" + self.process.output())
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.process.log.parent, ignore_errors=True)


Answer = Tuple[int, str, bytes]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a client that hung up is not news


class FixtureServer:
    """An in-process provider that answers each POST path with what a test set for it."""

    def __init__(self) -> None:
        self.answers: Dict[str, Answer] = {}
        self.requests: List[Tuple[str, Dict[str, Any]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                path = self.path.split("?")[0]
                outer.requests.append((path, json.loads(body or b"{}")))
                status, content_type, data = outer.answers.get(path, (404, "application/json", b"{}"))
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("x-request-id", "fixture-request")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.answers[path] = (status, content_type, body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class IngestProxy:
    """Stands in front of meterr's ingest: answers the first requests as ``script`` says (a status,
    or ``"drop"`` to forward the batch and then fail as if the answer were lost), forwards the rest,
    and records the size of each batch it saw."""

    def __init__(self, target: str, script: Optional[List[Any]] = None) -> None:
        self.target = target
        self.script = list(script or [])
        self.batches: List[int] = []
        self.bodies: List[int] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer._lock:
                    outer.batches.append(len(json.loads(body)))
                    outer.bodies.append(len(body))
                    action = outer.script.pop(0) if outer.script else "forward"
                if action == "drop":
                    outer._forward(self.path, body, self.headers)
                    self._reply(503, b'{"error":{"code":"unavailable","message":"answer lost","field":null}}')
                elif isinstance(action, int):
                    self._reply(action, b'{"error":{"code":"test","message":"scripted","field":null}}')
                else:
                    status, answer = outer._forward(self.path, body, self.headers)
                    self._reply(status, answer)

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _forward(self, path: str, body: bytes, headers: Any) -> Tuple[int, bytes]:
        request = urllib.request.Request(
            self.target + path,
            data=body,
            method="POST",
            headers={"Authorization": headers["Authorization"], "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
