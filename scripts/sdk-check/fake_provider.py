"""A fake AI provider for meterr's SDK check: answers every provider's surface with the recorded
responses in Tests/MeterrProvidersTests/Fixtures (JSON, or SSE when the request streams)."""
import http.server
import json
import os
import sys

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MeterrProvidersTests", "Fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        # For the OpenTelemetry check: the trace context each call arrived with.
        if os.environ.get("FAKE_PROVIDER_TRACE_LOG"):
            with open(os.environ["FAKE_PROVIDER_TRACE_LOG"], "a") as log:
                log.write(json.dumps({"path": self.path, "traceparent": self.headers.get("traceparent")}) + "\n")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        path = self.path.split("?")[0]
        stream = request.get("stream") is True or "streamGenerateContent" in path
        if path.endswith("/chat/completions"):
            name = "mistral-chat" if "mistral" in str(request.get("model")) else "openai-chat"
        elif path.endswith("/responses"):
            name = "openai-responses"
        elif path.endswith("/embeddings"):
            name = "openai-embeddings"
        elif path.endswith("/messages"):
            name = "anthropic-messages"
        elif path.endswith("/v2/chat"):
            name = "cohere-chat"
        elif "/models/" in path:
            name = "gemini-generate"
        else:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        data = fixture(name + (".sse" if stream else ".json"))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream" if stream else "application/json")
        self.send_header("x-request-id", "fake-" + name)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.serve_forever()
