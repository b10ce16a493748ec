// One metered provider call, from request to usage event: the piece meteredFetch drives, and what
// an app with another HTTP stack can drive itself (the Swift SDK's MeteredCall).
import { newEventId } from './ids.js';
import { endpointForPath, requestFacts } from './providers.js';
import { StreamScanner, framingForContentType } from './sse.js';
import { UsageReading, createUsageTap, makeUsage, readUsage } from './usage.js';

/** The response headers that carry the provider's own request id, in the order they are looked at. */
const REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'apim-request-id'];
/** The largest whole body kept for parsing; a larger one yields no usage (never a wrong one). */
const MAX_BODY_BYTES = 64 << 20;

/**
 * The plainest estimate, for calls whose provider count never arrived (a cut or abandoned stream):
 * one token per four bytes of UTF-8, the usual average for English text and code. Input is
 * estimated from the request body as sent, output from the text that streamed.
 * @type {import('../index.js').Estimator}
 */
export const byteLengthEstimator = Object.freeze({
  inputTokens: ({ body }) => Math.ceil((body?.length ?? 0) / 4),
  outputTokens: ({ text }) => Math.ceil(new TextEncoder().encode(text ?? '').length / 4),
});

/**
 * Whether a response is read as a stream: an event stream, or a success answering a request that
 * asked to stream (Gemini's `streamGenerateContent` always does).
 */
export function isStreamed(status, contentType, requested, endpoint) {
  return (
    (contentType ?? '').includes('event-stream') ||
    (status === 200 && (requested || endpoint === 'streamGenerateContent'))
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One metered call. Tell it the response head (`receivedHead`), then the body's bytes as they
 * arrive (`received`), then `finish()`: it reads the usage with the gateway's rules and reports one
 * event to the reporter. `finish(false)` says the body was cut or abandoned: the event then says
 * `usage_source: "estimated"` unless the provider's final count had already arrived.
 */
export class MeteredCall {
  /**
   * @param {object} options
   * @param {{report(event: object): unknown}} options.reporter where the event goes
   * @param {string} options.provider `openai`, `azure`, `anthropic`, `gemini`, `mistral` or `cohere`
   * @param {string} options.url the request's URL (the provider's)
   * @param {Uint8Array | string | null} [options.requestBody] the request body as sent
   * @param {{team?: string, user?: string, project?: string, tags?: Record<string, string>}} [options.attribution]
   * @param {import('../index.js').Estimator} [options.estimator]
   * @param {string} [options.eventId] the event's id (default: a new time-sortable `evt_…`)
   */
  constructor({ reporter, provider, url, requestBody = null, attribution = {}, estimator = byteLengthEstimator, eventId }) {
    this.reporter = reporter;
    this.provider = provider;
    this.attribution = attribution;
    this.estimator = estimator;
    this.startedAt = Date.now();
    this.started = performance.now();
    this.eventId = eventId ?? newEventId(this.startedAt);
    this.requestBody = typeof requestBody === 'string' ? encoder.encode(requestBody) : requestBody;
    const path = new URL(url).pathname;
    this.endpoint = endpointForPath(provider, path);
    let body;
    try {
      body = this.requestBody ? JSON.parse(decoder.decode(this.requestBody)) : undefined;
    } catch {
      body = undefined;
    }
    this.facts = requestFacts(provider, path, body);
    this.status = 0;
    this.streaming = false;
    this.upstreamRequestId = null;
    this.firstByte = null;
    this.reported = false;
    this.headed = false;
  }

  /** Whether the call costs anything (model lists and token counts do not, and report nothing). */
  get isMetered() {
    return this.endpoint !== null && this.endpoint !== 'count_tokens';
  }

  /**
   * The response head arrived.
   * @param {number} status
   * @param {Headers | Record<string, string>} headers
   */
  receivedHead(status, headers) {
    const get = (name) => (typeof headers?.get === 'function' ? headers.get(name) : headers?.[name]) ?? null;
    const contentType = get('content-type');
    this.status = status;
    this.upstreamRequestId = REQUEST_ID_HEADERS.map(get).find((value) => value) ?? null;
    this.streaming = isStreamed(status, contentType, this.facts.stream, this.endpoint);
    this.headed = true;
    if (!this.isMetered) return;
    if (this.streaming) {
      this.scanner = new StreamScanner(framingForContentType(contentType));
      this.tap = createUsageTap(this.provider, this.endpoint);
    } else {
      this.chunks = [];
      this.bodyBytes = 0;
    }
  }

  /**
   * More of the body arrived.
   * @param {Uint8Array} bytes
   */
  received(bytes) {
    if (this.firstByte === null) this.firstByte = performance.now();
    if (!this.headed || !this.isMetered || this.reported) return;
    if (this.streaming) {
      this.scanner.feed(bytes, (event) => this.tap.consume(event));
    } else if (this.chunks !== null) {
      this.bodyBytes += bytes.length;
      if (this.bodyBytes > MAX_BODY_BYTES) this.chunks = null;
      else this.chunks.push(bytes.slice());
    }
  }

  /**
   * The body ended (`complete: false` when it was cut or abandoned): reports the call's usage event
   * once, and returns it (`null` for calls that cost nothing or never got a response).
   * @param {boolean} [complete]
   * @returns {object | null}
   */
  finish(complete = true) {
    if (this.reported || !this.headed) return null;
    this.reported = true;
    if (!this.isMetered) return null;
    const reading = this.read();
    // A stream whose end marker arrived is whole even if the app then stopped reading.
    if (!complete) reading.finished = this.streaming && reading.finished;
    const model = reading.model ?? this.facts.model ?? 'unknown';
    const { usage, source } = this.billedUsage(reading, model);
    const { team, user, project, tags } = this.attribution;
    const event = {
      id: this.eventId,
      ts: new Date(this.startedAt).toISOString(),
      ...(team ? { team } : {}),
      ...((user ?? this.facts.user) ? { user: user ?? this.facts.user } : {}),
      ...(project ? { project } : {}),
      tags: { ...(tags ?? {}) },
      provider: this.provider,
      model,
      ...(this.facts.model ? { model_requested: this.facts.model } : {}),
      endpoint: this.endpoint,
      ...usage,
      usage_source: source,
      stream: this.streaming,
      status: this.status,
      latency_ms: Math.max(0, Math.round(performance.now() - this.started)),
      ...(this.streaming && this.firstByte !== null
        ? { ttft_ms: Math.max(0, Math.round(this.firstByte - this.started)) }
        : {}),
      ...((this.upstreamRequestId ?? reading.responseId)
        ? { upstream_request_id: this.upstreamRequestId ?? reading.responseId }
        : {}),
      route: 'sdk',
    };
    try {
      this.reporter.report(event);
    } catch {
      // A reporter never throws; another object with report() must not fail the app's call either.
    }
    return event;
  }

  read() {
    if (this.streaming) {
      this.scanner.finish((event) => this.tap.consume(event));
      return this.tap.reading;
    }
    if (this.chunks === null) return new UsageReading();
    const body = new Uint8Array(this.bodyBytes);
    let offset = 0;
    for (const chunk of this.chunks) {
      body.set(chunk, offset);
      offset += chunk.length;
    }
    this.chunks = [];
    return readUsage(this.provider, this.endpoint, decoder.decode(body));
  }

  /**
   * The counts to bill and where they came from: the provider's own when the response ended
   * cleanly (or was an error); else, for a success whose count never arrived, an estimate from the
   * request and the text that streamed (never below what the provider had said so far).
   */
  billedUsage(reading, model) {
    const status = this.status;
    if (reading.usage && (reading.finished || status >= 400)) return { usage: reading.usage, source: 'reported' };
    if (status < 200 || status >= 300) return { usage: reading.usage ?? makeUsage(), source: 'reported' };
    const context = { provider: this.provider, model };
    const input =
      reading.usage?.input_tokens ?? this.estimate('inputTokens', { ...context, body: this.requestBody });
    const streamed = this.estimate('outputTokens', { ...context, text: reading.outputText });
    const estimate = { ...(reading.usage ?? makeUsage({ input_tokens: input })) };
    estimate.input_tokens = Math.max(estimate.input_tokens, input);
    estimate.output_tokens = Math.max(estimate.output_tokens, streamed);
    return { usage: estimate, source: 'estimated' };
  }

  estimate(kind, context) {
    try {
      const value = this.estimator[kind](context);
      return Number.isSafeInteger(value) && value >= 0 ? value : byteLengthEstimator[kind](context);
    } catch {
      return byteLengthEstimator[kind](context);
    }
  }
}
