import Logging
import MeterrCore
import MeterrProviders
import Metrics
import NIOHTTP1
import OTel
import ServiceLifecycle
import Tracing

/// OpenTelemetry for gateway calls (`otel_endpoint`): one client span per call with the GenAI
/// semantic conventions and meterr's cost and attribution, the caller's W3C trace context continued
/// and passed on to the provider, and counters of cost and tokens; exported over OTLP/HTTP by
/// swift-otel. Without `otel_endpoint` none of this exists and calls pay nothing for it.
final class GatewayTelemetry: Sendable {
    let tracer: any Tracer
    let metrics: any MetricsFactory

    init(tracer: any Tracer, metrics: any MetricsFactory) {
        self.tracer = tracer
        self.metrics = metrics
    }

    /// The telemetry and the services that export it, for a collector at `endpoint`
    /// (`http://collector:4318`; traces go to `/v1/traces`, metrics to `/v1/metrics`).
    static func make(endpoint: String, serviceName: String, exportInterval: Duration, logger: Logger) throws -> (
        GatewayTelemetry, [any Service]
    ) {
        var base = endpoint
        while base.hasSuffix("/") { base.removeLast() }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.diagnosticLogger = .custom(logger)
        configuration.propagators = [.traceContext]
        configuration.logs.enabled = false
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.otlpExporter.endpoint = base + "/v1/traces"
        configuration.traces.batchSpanProcessor.scheduleDelay = exportInterval
        configuration.metrics.otlpExporter.protocol = .httpProtobuf
        configuration.metrics.otlpExporter.endpoint = base + "/v1/metrics"
        configuration.metrics.exportInterval = exportInterval
        let tracing = try OTel.makeTracingBackend(configuration: configuration)
        let metrics = try OTel.makeMetricsBackend(configuration: configuration)
        return (
            GatewayTelemetry(tracer: tracing.factory, metrics: metrics.factory), [tracing.service, metrics.service]
        )
    }

    /// `gen_ai.system` of each provider (OpenTelemetry's GenAI registry).
    static func system(_ provider: Provider) -> String {
        switch provider {
        case .openai: "openai"
        case .azure: "az.ai.openai"
        case .anthropic: "anthropic"
        case .gemini: "gcp.gemini"
        case .mistral: "mistral_ai"
        case .cohere: "cohere"
        }
    }

    /// `gen_ai.operation.name` of an endpoint.
    static func operation(_ endpoint: ProviderEndpoint?) -> String {
        switch endpoint {
        case .embeddings, .embedContent, .embed: "embeddings"
        case .completions: "text_completion"
        case .models: "models"
        case .countTokens: "count_tokens"
        default: "chat"
        }
    }

    /// Starts the call's span as a child of the caller's `traceparent` (if any), and puts the span's
    /// own trace context on the upstream request in place of the caller's.
    func start(
        call: GatewayCall, callerHeaders: CallerTraceHeaders, upstream headers: inout HTTPHeaders
    ) -> any Span {
        var parent = InstrumentationContext.topLevel
        tracer.extract(callerHeaders, into: &parent, using: CallerHeaders())
        let operation = Self.operation(call.endpoint)
        let span = tracer.startSpan(
            "\(operation) \(call.facts.model ?? call.provider.rawValue)", context: parent, ofKind: .client,
            at: EpochInstant(call.startedAt), function: #function, file: #fileID, line: #line)
        span.attributes["gen_ai.system"] = Self.system(call.provider)
        span.attributes["gen_ai.operation.name"] = operation
        if let model = call.facts.model { span.attributes["gen_ai.request.model"] = model }
        headers.remove(name: "traceparent")
        headers.remove(name: "tracestate")
        tracer.inject(span.context, into: &headers, using: UpstreamHeaders())
        return span
    }

    /// Ends the span with what the call used and cost, and counts its cost and tokens.
    func finish(_ span: any Span, status: Int, event: UsageEvent?, at end: Timestamp) {
        span.attributes["http.response.status_code"] = Int64(status)
        if status >= 400 { span.setStatus(SpanStatus(code: .error, message: "HTTP \(status)")) }
        if let event {
            span.attributes["gen_ai.response.model"] = event.model
            span.attributes["gen_ai.usage.input_tokens"] = Int64(event.usage.inputTokens)
            span.attributes["gen_ai.usage.output_tokens"] = Int64(event.usage.outputTokens)
            span.attributes["gen_ai.usage.cache_read_input_tokens"] = Int64(event.usage.cacheReadTokens)
            span.attributes["meterr.usage.reasoning_tokens"] = Int64(event.usage.reasoningTokens)
            span.attributes["meterr.usage_source"] = event.usageSource.rawValue
            if let cost = event.cost { span.attributes["meterr.cost_usd"] = cost.decimalString }
            span.attributes["meterr.org"] = event.org
            for (key, value) in [
                ("meterr.team", event.team), ("meterr.user", event.user), ("meterr.project", event.project),
                ("meterr.key_id", event.keyId), ("meterr.request_id", event.requestId),
            ] {
                if let value { span.attributes[key] = value }
            }
            for (key, value) in event.tags { span.attributes["meterr.tag.\(key)"] = value }
            count(event)
        }
        span.end(at: EpochInstant(end))
    }

    func count(_ event: UsageEvent) {
        var dimensions = [
            ("gen_ai.system", Self.system(event.provider)), ("gen_ai.response.model", event.model),
            ("meterr.org", event.org),
        ]
        if let team = event.team { dimensions.append(("meterr.team", team)) }
        if let cost = event.cost {
            FloatingPointCounter(label: "meterr.cost", dimensions: dimensions, factory: metrics)
                .increment(by: Double(cost.nanos) / 1e9)
        }
        for (type, tokens) in [("input", event.usage.inputTokens), ("output", event.usage.outputTokens)] {
            Counter(
                label: "gen_ai.client.token.usage", dimensions: dimensions + [("gen_ai.token.type", type)],
                factory: metrics
            )
            .increment(by: tokens)
        }
    }
}

/// A moment of meterr's clock as tracing takes it.
struct EpochInstant: TracerInstant {
    let nanosecondsSinceEpoch: UInt64

    init(_ time: Timestamp) { nanosecondsSinceEpoch = UInt64(max(0, time.milliseconds)) * 1_000_000 }

    static func < (lhs: EpochInstant, rhs: EpochInstant) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }
}

/// The caller's request headers, for reading `traceparent`.
struct CallerTraceHeaders: Sendable {
    let traceparent: String?
    let tracestate: String?

    init(_ headers: HTTPHeaders) {
        traceparent = headers.value("traceparent")
        tracestate = headers.value("tracestate")
    }
}

struct CallerHeaders: Extractor {
    func extract(key: String, from carrier: CallerTraceHeaders) -> String? {
        switch key.lowercased() {
        case "traceparent": carrier.traceparent
        case "tracestate": carrier.tracestate
        default: nil
        }
    }
}

struct UpstreamHeaders: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) {
        carrier.replaceOrAdd(name: key, value: value)
    }
}
