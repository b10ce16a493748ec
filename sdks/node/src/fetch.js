// meteredFetch: a fetch that meters the provider calls it makes, for the official OpenAI and
// Anthropic JS SDKs' `fetch` option (or direct use). The request goes as the app made it; the
// answer reaches the app byte for byte (a JSON body is cloned and read on the side; a stream is
// wrapped and read as the app reads it); one usage event per metered call goes to the reporter.
import { MeteredCall, byteLengthEstimator } from './call.js';
import { PROVIDERS } from './event.js';
import { inferProvider } from './providers.js';
import { UsageChunkStripper, requestingUsage, sendsStreamUsageOnlyWhenAsked } from './stream-usage.js';

const ATTRIBUTION_HEADERS = ['x-meterr-team', 'x-meterr-user', 'x-meterr-project', 'x-meterr-tags'];
const encoder = new TextEncoder();

/**
 * A `fetch` that meters the AI provider calls made through it.
 *
 * Give it to the official SDKs (`new OpenAI({ fetch: meteredFetch({...}) })`, the same for
 * `Anthropic`) or call it directly. It passes each request through, reads the usage from the JSON
 * answer or the SSE stream as the app consumes it, without changing the bytes the app reads, and
 * reports one usage event per metered call (meterr prices it). Calls that cost nothing (GET model
 * lists, token counts, unknown paths) pass untouched and report nothing. `x-meterr-team`, `-user`,
 * `-project` and `-tags` request headers attribute one call (over these options) and are not sent on.
 *
 * OpenAI and Azure Chat Completions streams that do not ask for their usage get
 * `stream_options.include_usage` added, and the extra usage chunk is taken out of what the app
 * reads (as meterr's gateway does); `injectStreamUsage: false` leaves such requests as they are and
 * estimates their usage instead.
 *
 * @param {object} options
 * @param {{report(event: object): unknown}} options.reporter a Reporter (or any object with report())
 * @param {string} [options.provider] the provider, when the URL does not tell (inferred from host or path)
 * @param {string} [options.team]
 * @param {string} [options.user] (default: the request body's `user`, for OpenAI-style requests)
 * @param {string} [options.project]
 * @param {Record<string, string>} [options.tags]
 * @param {typeof fetch} [options.fetch] the fetch that makes the calls (global fetch)
 * @param {import('../index.js').Estimator} [options.estimator] counts tokens when a provider's count never arrives
 * @param {boolean} [options.injectStreamUsage] ask OpenAI/Azure chat streams for their usage (true)
 * @returns {typeof fetch}
 */
export function meteredFetch(options = {}) {
  const { reporter } = options;
  if (!reporter || typeof reporter.report !== 'function') {
    throw new TypeError('meteredFetch needs a reporter (a Reporter, or an object with report(event))');
  }
  if (options.provider !== undefined && !PROVIDERS.includes(options.provider)) {
    throw new TypeError(`meteredFetch: provider must be one of ${PROVIDERS.join(', ')}`);
  }
  const settings = {
    reporter,
    provider: options.provider ?? null,
    attribution: { team: options.team, user: options.user, project: options.project, tags: options.tags ?? {} },
    estimator: options.estimator ?? byteLengthEstimator,
    injectStreamUsage: options.injectStreamUsage ?? true,
  };
  const baseFetch = options.fetch ?? globalThis.fetch;

  return async function fetchMetered(input, init) {
    let plan = null;
    try {
      plan = await planCall(input, init, settings);
    } catch {
      plan = null; // metering must never fail the app's call: send it as it is
    }
    if (plan === null) return baseFetch(input, init);
    const response = await baseFetch(plan.input, plan.init);
    try {
      return meterResponse(response, plan);
    } catch {
      return response;
    }
  };
}

/**
 * How a request is sent and metered, or `null` when it costs nothing (it then goes untouched).
 */
async function planCall(input, init, settings) {
  const request = typeof Request !== 'undefined' && input instanceof Request ? input : null;
  const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
  if (method !== 'POST') return null;
  const url = new URL(request ? request.url : String(input));
  const provider = settings.provider ?? inferProvider(url);
  if (provider === null) return null;

  const body = await requestBodyBytes(request, init);
  const headers = new Headers(init?.headers ?? request?.headers ?? undefined);
  const call = new MeteredCall({
    reporter: settings.reporter,
    provider,
    url: url.href,
    requestBody: body?.bytes ?? null,
    attribution: callAttribution(settings.attribution, headers),
    estimator: settings.estimator,
  });
  if (!call.isMetered) return null;

  const overrides = {};
  if (ATTRIBUTION_HEADERS.some((name) => headers.has(name))) {
    for (const name of ATTRIBUTION_HEADERS) headers.delete(name);
    overrides.headers = headers;
  }
  let stripper = null;
  if (
    settings.injectStreamUsage &&
    body?.original != null &&
    call.facts.stream &&
    !call.facts.hasStreamOptions &&
    sendsStreamUsageOnlyWhenAsked(provider, call.endpoint)
  ) {
    const rewritten = requestingUsage(body.original);
    if (rewritten !== null) {
      overrides.body = rewritten;
      // The body's length changed: let fetch count it.
      const fixed = overrides.headers ?? headers;
      fixed.delete('content-length');
      overrides.headers = fixed;
      stripper = new UsageChunkStripper();
    }
  }
  // What changes goes in init, which fetch lays over the input (a Request's headers and body too).
  const sendInit = overrides.headers || overrides.body !== undefined ? { ...init, ...overrides } : init;
  return { input, init: sendInit, call, stripper, signal: init?.signal ?? request?.signal ?? null };
}

/** The request body's bytes (and the body as the app gave it), or `null` when they cannot be read without consuming it. */
async function requestBodyBytes(request, init) {
  const body = init?.body !== undefined ? init.body : undefined;
  if (body === undefined) {
    if (!request || request.body === null) return null;
    const bytes = new Uint8Array(await request.clone().arrayBuffer());
    return { bytes, original: bytes };
  }
  if (body === null) return null;
  if (typeof body === 'string') return { bytes: encoder.encode(body), original: body };
  if (body instanceof ArrayBuffer) {
    const bytes = new Uint8Array(body);
    return { bytes, original: bytes };
  }
  if (ArrayBuffer.isView(body)) {
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return { bytes, original: bytes };
  }
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    return { bytes: new Uint8Array(await body.arrayBuffer()), original: null };
  }
  if (body instanceof URLSearchParams) return { bytes: encoder.encode(body.toString()), original: null };
  return null; // a stream, FormData or an iterable: sent as is, not read
}

/** The options' attribution, with this call's `x-meterr-*` headers over it. */
function callAttribution(base, headers) {
  const attribution = { ...base, tags: { ...base.tags } };
  for (const field of ['team', 'user', 'project']) {
    const value = headers.get(`x-meterr-${field}`);
    if (value) attribution[field] = value;
  }
  for (const pair of (headers.get('x-meterr-tags') ?? '').split(',')) {
    const equals = pair.indexOf('=');
    const key = equals < 0 ? '' : pair.slice(0, equals).trim();
    if (key) attribution.tags[key] = pair.slice(equals + 1).trim();
  }
  return attribution;
}

/** The response the app gets: the original (a JSON body cloned and read on the side) or a metering copy of a stream. */
function meterResponse(response, { call, stripper, signal }) {
  call.receivedHead(response.status, response.headers);
  if (response.body === null) {
    call.finish(true);
    return response;
  }
  if (!call.streaming) {
    readAside(response.clone(), call);
    return response;
  }
  return wrapStream(response, call, stripper, signal);
}

/** Reads a cloned JSON body to its end on the side; the app reads the original at its own pace. */
async function readAside(clone, call) {
  const reader = clone.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      call.received(value);
    }
    call.finish(true);
  } catch {
    call.finish(false);
  }
}

const finalizers =
  typeof FinalizationRegistry !== 'undefined'
    ? new FinalizationRegistry(({ call, reader }) => {
        // The app dropped a stream it never finished or cancelled: report what was read.
        call.finish(false);
        reader.cancel().catch(() => {});
      })
    : null;

/**
 * A copy of a streamed response whose body passes the provider's bytes to the app as the app
 * reads them (never ahead), feeding each to the call's usage reader. The call is reported when the
 * body ends, errors, is cancelled (an SDK's `break`), when the request's signal aborts, or when the
 * app drops the body unfinished.
 */
function wrapStream(response, call, stripper, signal) {
  const reader = response.body.getReader();
  let settled = false;
  const settle = (complete) => {
    if (settled) return;
    settled = true;
    finalizers?.unregister(token);
    signal?.removeEventListener?.('abort', onAbort);
    call.finish(complete);
  };
  const onAbort = () => settle(false);
  const token = {};

  const body = new ReadableStream(
    {
      async pull(controller) {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) {
              const rest = stripper?.flush();
              if (rest && rest.length > 0) controller.enqueue(rest);
              controller.close();
              settle(true);
              return;
            }
            call.received(value);
            const out = stripper ? stripper.pass(value) : value;
            if (out.length > 0) {
              controller.enqueue(out);
              return;
            }
          }
        } catch (error) {
          settle(false);
          controller.error(error);
        }
      },
      cancel(reason) {
        settle(false);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  signal?.addEventListener?.('abort', onAbort, { once: true });
  finalizers?.register(body, { call, reader }, token);

  const headers = new Headers(response.headers);
  if (stripper) headers.delete('content-length'); // the app reads fewer bytes than the provider sent
  const metered = new Response(body, { status: response.status, statusText: response.statusText, headers });
  for (const name of ['url', 'redirected', 'type']) {
    Object.defineProperty(metered, name, { value: response[name], enumerable: true });
  }
  return metered;
}
