"""An OTLP/HTTP receiver for meterr's OpenTelemetry check: decodes each export with the official
opentelemetry-proto messages and appends the spans and metric points it holds to JSON-lines files."""
import gzip
import http.server
import json
import sys

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PORT, OUT = int(sys.argv[1]), sys.argv[2]


def attributes(items):
    values = {}
    for item in items:
        value = MessageToDict(item.value)
        values[item.key] = next(iter(value.values())) if value else None
    return values


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        assert self.headers.get("content-type") == "application/x-protobuf", self.headers.get("content-type")
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            with open(f"{OUT}/spans.jsonl", "a") as out:
                for resource in request.resource_spans:
                    service = attributes(resource.resource.attributes).get("service.name")
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            out.write(json.dumps({
                                "service": service, "name": span.name, "kind": span.kind,
                                "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                                "status": span.status.code, "attributes": attributes(span.attributes),
                            }) + "\n")
            reply = ExportTraceServiceResponse()
        elif self.path == "/v1/metrics":
            request = ExportMetricsServiceRequest.FromString(body)
            with open(f"{OUT}/metrics.jsonl", "a") as out:
                for resource in request.resource_metrics:
                    for scope in resource.scope_metrics:
                        for metric in scope.metrics:
                            data = metric.sum if metric.HasField("sum") else None
                            for point in (data.data_points if data else []):
                                value = point.as_double if point.HasField("as_double") else point.as_int
                                out.write(json.dumps({
                                    "name": metric.name, "value": value, "attributes": attributes(point.attributes),
                                }) + "\n")
            reply = ExportMetricsServiceResponse()
        else:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        payload = reply.SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
