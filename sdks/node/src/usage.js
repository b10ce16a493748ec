// Reads each provider's usage from a whole JSON body or a stream's events, normalised to meterr's
// fields: `input_tokens` counts ALL prompt tokens (uncached + cache reads + cache writes), the cache
// counts are parts of it, and `output_tokens` includes `reasoning_tokens`. The same readers as the
// gateway's (Sources/MeterrProviders/*/…Usage.swift); docs: /work/shared/reference/providers.md.

/**
 * @typedef {object} Usage
 * @property {number} input_tokens
 * @property {number} cache_read_tokens
 * @property {number} cache_write_tokens
 * @property {number} cache_write_1h_tokens
 * @property {number} output_tokens
 * @property {number} reasoning_tokens
 */

/** Text kept from a stream to estimate output when no usage arrives (characters). */
const MAX_OUTPUT_TEXT = 4 << 20;

/** What a response said about one call: the provider's usage, the model that served it, whether it ended cleanly. */
export class UsageReading {
  constructor() {
    /** @type {Usage | null} */
    this.usage = null;
    /** @type {string | null} */
    this.model = null;
    /** @type {string | null} */
    this.responseId = null;
    /** @type {string | null} an error the provider reported inside a successful response */
    this.error = null;
    /** whether the stream reached its end marker (always true for whole bodies that parsed) */
    this.finished = false;
    /** text the model produced (bounded), to estimate output when no usage arrives */
    this.outputText = '';
  }

  appendText(text) {
    if (typeof text === 'string' && text.length > 0 && this.outputText.length < MAX_OUTPUT_TEXT) {
      this.outputText += text;
    }
  }

  noteModel(value) {
    if (typeof value === 'string' && value.length > 0) this.model = value;
  }
}

/** Normalised usage; missing parts are 0. */
export function makeUsage(parts = {}) {
  return {
    input_tokens: parts.input_tokens ?? 0,
    cache_read_tokens: parts.cache_read_tokens ?? 0,
    cache_write_tokens: parts.cache_write_tokens ?? 0,
    cache_write_1h_tokens: parts.cache_write_1h_tokens ?? 0,
    output_tokens: parts.output_tokens ?? 0,
    reasoning_tokens: parts.reasoning_tokens ?? 0,
  };
}

/** A whole number (`21` or `21.0`), or undefined. */
function int(value) {
  return Number.isSafeInteger(value) ? value : undefined;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const present = (value) => value !== undefined && value !== null;

// OpenAI, Azure OpenAI and Mistral: Chat Completions, legacy Completions, Responses, Embeddings.

/** `CompletionUsage`: cached tokens are part of `prompt_tokens`, reasoning part of `completion_tokens`. */
function openAIChatUsage(usage) {
  return makeUsage({
    input_tokens: int(usage.prompt_tokens) ?? 0,
    cache_read_tokens: int(usage.prompt_tokens_details?.cached_tokens) ?? 0,
    output_tokens: int(usage.completion_tokens) ?? 0,
    reasoning_tokens: int(usage.completion_tokens_details?.reasoning_tokens) ?? 0,
  });
}

/** `ResponseUsage` of the Responses API. */
function openAIResponsesUsage(usage) {
  return makeUsage({
    input_tokens: int(usage.input_tokens) ?? 0,
    cache_read_tokens: int(usage.input_tokens_details?.cached_tokens) ?? 0,
    output_tokens: int(usage.output_tokens) ?? 0,
    reasoning_tokens: int(usage.output_tokens_details?.reasoning_tokens) ?? 0,
  });
}

function readOpenAI(endpoint, root) {
  const reading = new UsageReading();
  if (!isObject(root)) return reading;
  reading.finished = true;
  reading.responseId = typeof root.id === 'string' ? root.id : null;
  reading.noteModel(root.model);
  if (isObject(root.usage)) {
    reading.usage = endpoint === 'responses' ? openAIResponsesUsage(root.usage) : openAIChatUsage(root.usage);
  }
  if (present(root.error)) reading.error = root.error?.message ?? 'error';
  return reading;
}

/** Chat Completions streams: usage arrives on one chunk (`usage != null`, not "empty choices": Azure's first chunk has empty choices too), then `data: [DONE]`. */
class OpenAIChatTap {
  constructor() {
    this.reading = new UsageReading();
  }

  consume(event) {
    if (event.data === '[DONE]') {
      this.reading.finished = true;
      return;
    }
    const chunk = parse(event.data);
    if (!isObject(chunk)) return;
    const reading = this.reading;
    reading.noteModel(chunk.model);
    if (reading.responseId === null && typeof chunk.id === 'string' && chunk.id) reading.responseId = chunk.id;
    const hasUsage = isObject(chunk.usage);
    if (hasUsage) reading.usage = openAIChatUsage(chunk.usage);
    if (present(chunk.error)) reading.error = chunk.error?.message ?? 'error';
    for (const choice of Array.isArray(chunk.choices) ? chunk.choices : []) {
      reading.appendText(choice?.delta?.content ?? choice?.text);
      // Mistral sends usage on the chunk with finish_reason, and no [DONE] may follow.
      if (typeof choice?.finish_reason === 'string' && choice.finish_reason && hasUsage) reading.finished = true;
    }
  }
}

/** Responses API streams: usage only in the terminal `response.completed` / `.incomplete` / `.failed` event; no `[DONE]`. */
class OpenAIResponsesTap {
  constructor() {
    this.reading = new UsageReading();
  }

  consume(event) {
    if (event.data === '[DONE]') {
      this.reading.finished = true;
      return;
    }
    const payload = parse(event.data);
    if (!isObject(payload)) return;
    const reading = this.reading;
    const type = payload.type ?? event.name ?? '';
    switch (type) {
      case 'response.output_text.delta':
        reading.appendText(payload.delta);
        break;
      case 'response.created':
      case 'response.in_progress':
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
      case 'response.done': {
        const response = isObject(payload.response) ? payload.response : {};
        reading.noteModel(response.model);
        if (reading.responseId === null && typeof response.id === 'string') reading.responseId = response.id;
        if (isObject(response.usage)) reading.usage = openAIResponsesUsage(response.usage);
        if (type === 'response.failed') reading.error = response.error?.message ?? 'response failed';
        if (type !== 'response.created' && type !== 'response.in_progress') reading.finished = true;
        break;
      }
      case 'error':
        reading.error = payload.error?.message ?? payload.message ?? 'error';
        break;
      default:
        break;
    }
  }
}

// Anthropic Messages: `input_tokens` EXCLUDES cache reads and writes, so the normalised input is their sum.

/**
 * Normalises an Anthropic usage object over `base` (a stream's earlier counts): a field left out
 * keeps its earlier count, so a later partial update never erases what an earlier one said.
 */
export function anthropicUsage(usage, base = null) {
  const previous = {
    uncached: base ? base.input_tokens - base.cache_read_tokens - base.cache_write_tokens - base.cache_write_1h_tokens : 0,
    cacheRead: base?.cache_read_tokens ?? 0,
    write5m: base?.cache_write_tokens ?? 0,
    write1h: base?.cache_write_1h_tokens ?? 0,
  };
  const uncached = int(usage.input_tokens) ?? previous.uncached;
  const cacheRead = int(usage.cache_read_input_tokens) ?? previous.cacheRead;
  let write5m = previous.write5m;
  let write1h = previous.write1h;
  const total = int(usage.cache_creation_input_tokens);
  if (isObject(usage.cache_creation)) {
    write5m = int(usage.cache_creation.ephemeral_5m_input_tokens) ?? previous.write5m;
    write1h = int(usage.cache_creation.ephemeral_1h_input_tokens) ?? previous.write1h;
  } else if (total !== undefined) {
    // A cache-write total without a breakdown keeps the known 1h writes where they fit; the rest are 5m.
    write1h = Math.min(previous.write1h, total);
    write5m = total - write1h;
  }
  const output = int(usage.output_tokens) ?? base?.output_tokens ?? 0;
  const thinking = int(usage.output_tokens_details?.thinking_tokens) ?? base?.reasoning_tokens ?? 0;
  return makeUsage({
    input_tokens: uncached + cacheRead + write5m + write1h,
    cache_read_tokens: cacheRead,
    cache_write_tokens: write5m,
    cache_write_1h_tokens: write1h,
    output_tokens: output,
    reasoning_tokens: Math.min(thinking, output),
  });
}

function readAnthropic(root) {
  const reading = new UsageReading();
  if (!isObject(root)) return reading;
  reading.finished = true;
  reading.responseId = typeof root.id === 'string' ? root.id : null;
  reading.noteModel(root.model);
  if (isObject(root.usage)) reading.usage = anthropicUsage(root.usage);
  if (root.type === 'error') reading.error = root.error?.message ?? 'error';
  return reading;
}

/** Anthropic streams: `message_start` carries the input side; each `message_delta` carries CUMULATIVE counts that replace (never add to) what came before. */
class AnthropicTap {
  constructor() {
    this.reading = new UsageReading();
  }

  consume(event) {
    const payload = parse(event.data);
    if (!isObject(payload)) return;
    const reading = this.reading;
    switch (payload.type ?? event.name ?? '') {
      case 'message_start': {
        const message = isObject(payload.message) ? payload.message : {};
        reading.noteModel(message.model);
        reading.responseId = typeof message.id === 'string' ? message.id : null;
        if (isObject(message.usage)) reading.usage = anthropicUsage(message.usage);
        break;
      }
      case 'message_delta':
        if (isObject(payload.usage)) reading.usage = anthropicUsage(payload.usage, reading.usage);
        break;
      case 'content_block_delta': {
        const delta = payload.delta ?? {};
        reading.appendText(delta.text ?? delta.thinking ?? delta.partial_json);
        break;
      }
      case 'message_stop':
        reading.finished = true;
        break;
      case 'error':
        reading.error = payload.error?.message ?? 'error';
        break;
      default:
        break;
    }
  }
}

// Gemini `usageMetadata`: cached tokens are inside `promptTokenCount`; thinking tokens are NOT inside
// `candidatesTokenCount` but billed as output; tool-use prompt tokens count as input.

function geminiUsage(metadata) {
  const thoughts = int(metadata.thoughtsTokenCount) ?? 0;
  return makeUsage({
    input_tokens: (int(metadata.promptTokenCount) ?? 0) + (int(metadata.toolUsePromptTokenCount) ?? 0),
    cache_read_tokens: int(metadata.cachedContentTokenCount) ?? 0,
    output_tokens: (int(metadata.candidatesTokenCount) ?? 0) + thoughts,
    reasoning_tokens: thoughts,
  });
}

/** Whether a metadata object carries counts (Vertex sends some with only `trafficType`). */
const geminiHasCounts = (metadata) =>
  present(metadata.promptTokenCount) || present(metadata.candidatesTokenCount) || present(metadata.totalTokenCount);

/** Gemini streams: every chunk may repeat `usageMetadata` with RUNNING totals: the last value of each field wins. */
class GeminiTap {
  constructor() {
    this.reading = new UsageReading();
    this.metadata = {};
  }

  consume(event) {
    this.consumeChunk(parse(event.data));
  }

  consumeChunk(chunk) {
    if (!isObject(chunk)) return;
    const reading = this.reading;
    reading.noteModel(chunk.modelVersion);
    if (reading.responseId === null && typeof chunk.responseId === 'string') reading.responseId = chunk.responseId;
    if (isObject(chunk.usageMetadata)) {
      for (const [key, value] of Object.entries(chunk.usageMetadata)) if (value !== null) this.metadata[key] = value;
      if (geminiHasCounts(this.metadata)) reading.usage = geminiUsage(this.metadata);
    }
    for (const candidate of Array.isArray(chunk.candidates) ? chunk.candidates : []) {
      const parts = candidate?.content?.parts;
      for (const part of Array.isArray(parts) ? parts : []) {
        if (part?.thought !== true) reading.appendText(part?.text);
      }
      if (typeof candidate?.finishReason === 'string') reading.finished = true;
    }
    if (present(chunk.error)) reading.error = chunk.error?.message ?? 'error';
  }
}

function readGemini(root) {
  // Without alt=sse a stream's body is one JSON array of responses: read it as a stream.
  if (Array.isArray(root)) {
    const tap = new GeminiTap();
    for (const chunk of root) tap.consumeChunk(chunk);
    tap.reading.finished = true;
    return tap.reading;
  }
  const reading = new UsageReading();
  if (!isObject(root)) return reading;
  reading.finished = true;
  reading.responseId = typeof root.responseId === 'string' ? root.responseId : null;
  reading.noteModel(root.modelVersion);
  if (isObject(root.usageMetadata) && geminiHasCounts(root.usageMetadata)) reading.usage = geminiUsage(root.usageMetadata);
  if (present(root.error)) reading.error = root.error?.message ?? 'error';
  return reading;
}

// Cohere bills `billed_units`, not the larger raw `tokens` count (which includes its own preamble).

function cohereUsage(units) {
  return makeUsage({ input_tokens: int(units.input_tokens) ?? 0, output_tokens: int(units.output_tokens) ?? 0 });
}

function readCohere(endpoint, root) {
  const reading = new UsageReading();
  if (!isObject(root)) return reading;
  reading.finished = true;
  reading.responseId = typeof root.id === 'string' ? root.id : typeof root.response_id === 'string' ? root.response_id : null;
  const units = root.usage?.billed_units ?? root.meta?.billed_units;
  if (isObject(units)) reading.usage = cohereUsage(units);
  if (endpoint !== 'embed' && reading.usage === null && typeof root.message === 'string') reading.error = root.message;
  return reading;
}

/** Cohere v2 chat streams: usage in `message-end` → `delta.usage.billed_units`; text in `content-delta`. */
class CohereV2Tap {
  constructor() {
    this.reading = new UsageReading();
  }

  consume(event) {
    const payload = parse(event.data);
    if (!isObject(payload)) return;
    const reading = this.reading;
    switch (payload.type ?? event.name ?? '') {
      case 'message-start':
        reading.responseId = typeof payload.id === 'string' ? payload.id : null;
        break;
      case 'content-delta':
        reading.appendText(payload.delta?.message?.content?.text);
        break;
      case 'message-end': {
        const units = payload.delta?.usage?.billed_units;
        if (isObject(units)) reading.usage = cohereUsage(units);
        const error = payload.delta?.error;
        if (typeof error === 'string' && error) reading.error = error;
        reading.finished = true;
        break;
      }
      default:
        break;
    }
  }
}

/** Cohere v1 chat streams (NDJSON or SSE): usage in `stream-end` → `response.meta.billed_units`. */
class CohereV1Tap {
  constructor() {
    this.reading = new UsageReading();
  }

  consume(event) {
    const payload = parse(event.data);
    if (!isObject(payload)) return;
    const reading = this.reading;
    switch (payload.event_type ?? event.name ?? '') {
      case 'stream-start':
        reading.responseId = typeof payload.generation_id === 'string' ? payload.generation_id : null;
        break;
      case 'text-generation':
        reading.appendText(payload.text);
        break;
      case 'stream-end': {
        const units = payload.response?.meta?.billed_units;
        if (isObject(units)) reading.usage = cohereUsage(units);
        if (payload.finish_reason === 'ERROR') reading.error = 'stream ended with an error';
        reading.finished = true;
        break;
      }
      default:
        break;
    }
  }
}

const OPENAI_WIRE = new Set(['openai', 'azure', 'mistral']);

/**
 * The usage in a whole (non-streamed) response body.
 * @param {string} provider
 * @param {string} endpoint
 * @param {string} text the body
 * @returns {UsageReading}
 */
export function readUsage(provider, endpoint, text) {
  const root = parse(text);
  if (OPENAI_WIRE.has(provider)) return readOpenAI(endpoint, root);
  if (provider === 'anthropic') return readAnthropic(root);
  if (provider === 'gemini') return readGemini(root);
  if (provider === 'cohere') return readCohere(endpoint, root);
  return new UsageReading();
}

/**
 * A tap that reads usage from a streamed response, event by event (`tap.consume(event)`, then `tap.reading`).
 * @param {string} provider
 * @param {string} endpoint
 * @returns {{consume(event: {name: string | null, data: string}): void, reading: UsageReading}}
 */
export function createUsageTap(provider, endpoint) {
  if (OPENAI_WIRE.has(provider)) return endpoint === 'responses' ? new OpenAIResponsesTap() : new OpenAIChatTap();
  if (provider === 'anthropic') return new AnthropicTap();
  if (provider === 'gemini') return new GeminiTap();
  if (provider === 'cohere') return endpoint === 'chat.v1' ? new CohereV1Tap() : new CohereV2Tap();
  return { reading: new UsageReading(), consume() {} };
}
