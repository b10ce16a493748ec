// Type declarations for `meterr`, the Node.js SDK of meterr (hand-written; the package has no
// build step). Everything `index.js` exports is declared here.

/** The providers meterr meters. */
export type Provider = 'openai' | 'azure' | 'anthropic' | 'gemini' | 'mistral' | 'cohere';

/** `['openai', 'azure', 'anthropic', 'gemini', 'mistral', 'cohere']`. */
export const PROVIDERS: readonly Provider[];

/**
 * One metered call, as `POST /api/usage/events` takes it (docs/api.md, "The usage event").
 * `input_tokens` counts ALL prompt tokens (uncached + cache reads + cache writes); the cache counts
 * are parts of it; `output_tokens` includes `reasoning_tokens`. Leave `cost_usd` out: meterr prices
 * the event from its catalog.
 */
export interface UsageEvent {
  /** 1–128 characters; meterr stores each id once per organisation. Default: a time-sortable `evt_…`. */
  id?: string;
  /** When the call happened: RFC 3339 (UTC with milliseconds is what meterr prints), a Date or Unix ms. Default: now. */
  ts?: string | Date | number;
  org?: string;
  team?: string | null;
  user?: string | null;
  project?: string | null;
  key_id?: string | null;
  /** Free-form attribution, at most 64 (keys 1–128 characters, values up to 256). */
  tags?: Record<string, string>;
  provider: Provider;
  /** The model the provider reports (a dated snapshot, say). */
  model: string;
  /** The model as asked for. */
  model_requested?: string | null;
  /** e.g. `chat.completions`, `responses`, `embeddings`, `messages`, `generateContent`, `chat`. */
  endpoint?: string | null;
  input_tokens: number;
  cache_read_tokens?: number;
  /** 5-minute cache writes. */
  cache_write_tokens?: number;
  cache_write_1h_tokens?: number;
  output_tokens: number;
  reasoning_tokens?: number;
  /** A decimal string (`"0.000008550"`); best left out, so that meterr prices the call. */
  cost_usd?: string | number | null;
  price_id?: string | null;
  /** `reported`: the provider's numbers; `estimated`: a local count. */
  usage_source?: 'reported' | 'estimated';
  stream?: boolean;
  status?: number | null;
  latency_ms?: number | null;
  ttft_ms?: number | null;
  request_id?: string | null;
  upstream_request_id?: string | null;
  route?: string | null;
}

/** The event meteredFetch and MeteredCall report: every call fact filled in. */
export interface MeteredEvent extends UsageEvent {
  id: string;
  ts: string;
  tags: Record<string, string>;
  endpoint: string;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_1h_tokens: number;
  reasoning_tokens: number;
  usage_source: 'reported' | 'estimated';
  stream: boolean;
  status: number;
  latency_ms: number;
  /** `sdk`. */
  route: string;
}

/** A failed or refused delivery, as `ReporterOptions.onError` hears of it. */
export interface DeliveryFailure {
  /** meterr's HTTP status, or `null` when meterr was unreachable (or the event was invalid). */
  status: number | null;
  /** What went wrong, with meterr's error code and field when it said them. */
  message: string;
  /** How many events the failure concerns. */
  events: number;
  /** Whether they will be sent again (unreachable, 5xx, 408, 429) or were refused for good. */
  retrying: boolean;
}

export interface ReporterOptions {
  /** meterr's base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** A meterr key with the `ingest` scope (`mk_…`). */
  key: string;
  /** Most events in one request (100; at most 1,000). */
  maxBatchSize?: number;
  /** Most bytes of JSON in one request (512 KiB). */
  maxBatchBytes?: number;
  /** Milliseconds an event may wait for its batch to fill before it is sent anyway (1,000). */
  flushInterval?: number;
  /** Most events held while meterr is slow or unreachable; past it the oldest are dropped (10,000). */
  bufferLimit?: number;
  /** Milliseconds to wait after a first failed delivery; doubles with each failure in a row (200). */
  initialBackoff?: number;
  /** Longest wait between attempts, in milliseconds (30,000). */
  maxBackoff?: number;
  /** Milliseconds one delivery may take (10,000). */
  requestTimeout?: number;
  /** Close on the process's `beforeExit`, delivering what is buffered (true). */
  flushOnExit?: boolean;
  /** Milliseconds that close may take on `beforeExit` (5,000). */
  exitTimeout?: number;
  /** The fetch used to reach meterr (the global one). */
  fetch?: typeof fetch;
  /** Told of each failed or refused delivery; errors it throws are ignored. */
  onError?: (failure: DeliveryFailure) => void;
}

/** What a reporter has done so far. */
export interface ReporterCounters {
  /** Events meterr acknowledged (new, or already stored). */
  sent: number;
  /** Events put back for another attempt after a delivery failed. */
  retried: number;
  /** Events that will never be delivered: pushed out of a full buffer, reported after close, or left when close's time ran out. */
  dropped: number;
  /** Events refused: invalid before sending, or answered with a 4xx that a retry cannot mend. */
  rejected: number;
  /** Events buffered or in flight. */
  pending: number;
  /** Deliveries that failed (meterr unreachable, 5xx, 408, 429). */
  failedAttempts: number;
}

/**
 * Sends usage events to meterr's `POST /api/usage/events` in the background, batched, retried with
 * exponential backoff and jitter, buffered (bounded) while meterr is down. `report()` never blocks
 * or throws.
 */
export class Reporter {
  constructor(options: ReporterOptions);
  /** meterr's base URL, without a trailing slash. */
  readonly url: string;
  /**
   * Queues an event and returns at once; never throws. An event without `id` gets a time-sortable
   * `evt_…` id, one without `ts` the time now.
   * @returns the event's id, or `null` when it was turned away (invalid, or reported after close)
   */
  report(event: UsageEvent): string | null;
  /** What the reporter has done so far. */
  readonly counters: ReporterCounters;
  /**
   * Sends what is buffered now and waits until the buffer is empty or `timeout` ms (10,000) passed.
   * @returns whether the buffer emptied in time
   */
  flush(options?: { timeout?: number }): Promise<boolean>;
  /** Delivers what is buffered within `timeout` ms (10,000), then drops (and counts) the rest and stops. */
  close(options?: { timeout?: number }): Promise<void>;
}

/** Who a call is billed to, below the meterr key's organisation. */
export interface Attribution {
  team?: string;
  /** For OpenAI-style requests, the body's `user` field when this is not set. */
  user?: string;
  project?: string;
  tags?: Record<string, string>;
}

/** Counts tokens where a provider's own count never arrived (a cut or abandoned stream). */
export interface Estimator {
  /** The prompt tokens of a request body (`null` when the body could not be read). */
  inputTokens(context: { provider: Provider; model: string; body: Uint8Array | null }): number;
  /** The tokens of text the model produced. */
  outputTokens(context: { provider: Provider; model: string; text: string }): number;
}

/** One token per four bytes of UTF-8 (the default estimator). */
export const byteLengthEstimator: Estimator;

/** Where metered calls' events go: a Reporter, or any object with `report(event)`. */
export interface UsageSink {
  report(event: MeteredEvent): unknown;
}

export interface MeteredFetchOptions extends Attribution {
  reporter: UsageSink;
  /** The provider, when the URL does not tell (inferred from the host, else the path). */
  provider?: Provider;
  /** The fetch that makes the calls (the global one). */
  fetch?: typeof fetch;
  /** Counts tokens when a provider's count never arrives (default: `byteLengthEstimator`). */
  estimator?: Estimator;
  /**
   * Ask OpenAI and Azure Chat Completions streams for their usage (`stream_options.include_usage`)
   * when the app did not, and hide the extra chunk from the app (true). With false such streams are
   * estimated.
   */
  injectStreamUsage?: boolean;
}

/**
 * A `fetch` that meters the provider calls made through it: for the `fetch` option of the official
 * OpenAI and Anthropic SDKs, or direct use. One usage event per metered call goes to the reporter;
 * calls that cost nothing pass untouched and report nothing.
 */
export function meteredFetch(options: MeteredFetchOptions): typeof fetch;

export interface MeteredCallOptions {
  reporter: UsageSink;
  provider: Provider;
  /** The request's URL (the provider's). */
  url: string;
  /** The request body as sent. */
  requestBody?: Uint8Array | string | null;
  attribution?: Attribution;
  estimator?: Estimator;
  /** The event's id (default: a new time-sortable `evt_…`). */
  eventId?: string;
}

/**
 * One metered call, for HTTP stacks other than fetch: give it the response head, the body's bytes
 * as they arrive, then `finish()`; it reports one event.
 */
export class MeteredCall {
  constructor(options: MeteredCallOptions);
  readonly eventId: string;
  /** The metered endpoint (`chat.completions`, `messages`, …), or `null` for calls that cost nothing. */
  readonly endpoint: string | null;
  /** Whether the call costs anything (model lists and token counts do not, and report nothing). */
  readonly isMetered: boolean;
  /** Whether the response is read as a stream (known after `receivedHead`). */
  readonly streaming: boolean;
  receivedHead(status: number, headers: Headers | Record<string, string>): void;
  received(bytes: Uint8Array): void;
  /**
   * The body ended (`complete: false` when it was cut or abandoned): reports the event once and
   * returns it (`null` for calls that cost nothing, or before `receivedHead`).
   */
  finish(complete?: boolean): MeteredEvent | null;
}

/** Options to spread into an SDK constructor for meterr's gateway. */
export interface GatewayOptionsInput extends Attribution {
  /** meterr's base URL. */
  url: string;
  /** A meterr key with the `gateway` scope (`mk_…`). */
  key: string;
}

/** `{ baseURL, apiKey, defaultHeaders }`, for `new OpenAI({...})`, `new Anthropic({...})` and the like. */
export interface SDKGatewayOptions {
  baseURL: string;
  apiKey: string;
  defaultHeaders: Record<string, string>;
}

/** `{ endpoint, apiKey, defaultHeaders }`, for `new AzureOpenAI({...})`. */
export interface AzureGatewayOptions {
  endpoint: string;
  apiKey: string;
  defaultHeaders: Record<string, string>;
}

/**
 * The base URL a provider's SDK is given to call through meterr: `…/openai/v1`, `…/azure`,
 * `…/anthropic`, `…/gemini`, `…/mistral`, `…/cohere`.
 */
export function gatewayBaseURL(meterrURL: string, provider: Provider): string;

/** The OpenAI-compatible unified API (`…/v1`), where `provider/model` names reach any provider. */
export function unifiedBaseURL(meterrURL: string): string;

/**
 * `x-meterr-team`, `x-meterr-user`, `x-meterr-project` and `x-meterr-tags` (`k=v,k2=v2`, in key
 * order) for the attribution given.
 * @throws TypeError for a tag the header cannot carry (`=` or `,` in a key, `,` in a value)
 */
export function attributionHeaders(attribution?: Attribution): Record<string, string>;

/** Constructor options for a provider SDK through meterr's gateway (default provider: `openai`). */
export function gatewayOptions(options: GatewayOptionsInput & { provider: 'azure' }): AzureGatewayOptions;
export function gatewayOptions(options: GatewayOptionsInput & { provider?: Exclude<Provider, 'azure'> }): SDKGatewayOptions;

/** `new OpenAI({ ...openAIGatewayOptions({ url, key, team, tags }) })`. */
export function openAIGatewayOptions(options: GatewayOptionsInput): SDKGatewayOptions;

/** `new Anthropic({ ...anthropicGatewayOptions({ url, key, team, tags }) })`. */
export function anthropicGatewayOptions(options: GatewayOptionsInput): SDKGatewayOptions;

/**
 * A new usage event id that sorts by creation time: `evt_`, the time in milliseconds as eight
 * base-62 digits, then 14 random characters.
 * @param now Unix milliseconds (default: now)
 */
export function newEventId(now?: number): string;
