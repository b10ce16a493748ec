// The usage event as meterr's `POST /api/usage/events` takes it (docs/api.md, "The usage event"),
// and the checks meterr applies, made before sending: meterr refuses a whole batch when one of its
// events is invalid, so a bad event is turned away here, alone.
import { newEventId } from './ids.js';

/** The providers meterr meters. */
export const PROVIDERS = Object.freeze(['openai', 'azure', 'anthropic', 'gemini', 'mistral', 'cohere']);

const TOKEN_FIELDS = [
  'input_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'output_tokens',
  'reasoning_tokens',
];
const SHORT_STRINGS = [
  'team',
  'user',
  'project',
  'key_id',
  'model_requested',
  'endpoint',
  'price_id',
  'request_id',
  'upstream_request_id',
  'route',
];
// meterr's grammar: a date, or a date and a time with a zone (`T`, `t` or a space between them).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2})))?$/;

/** Whether meterr reads `text` as a time: RFC 3339 (or a bare date) with real months, days and hours. */
export function isTimestamp(text) {
  const match = typeof text === 'string' ? RFC3339.exec(text) : null;
  if (!match) return false;
  const [year, month, day, hour = 0, minute = 0, second = 0, offsetHours = 0, offsetMinutes = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? undefined : Number(part)));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth &&
    hour < 24 && minute < 60 && second < 61 && offsetHours < 24 && offsetMinutes < 60
  );
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text) {
  let length = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      length += 4;
      index++;
    } else length += 3;
  }
  return length;
}

const isCount = (value) => Number.isSafeInteger(value) && value >= 0;

/**
 * The event ready to send: a copy with an `id` (time-sortable, when the app gave none) and a `ts`
 * (now, when missing; a `Date` or Unix milliseconds become RFC 3339 UTC with milliseconds).
 * @param {object} event
 * @param {number} [now]
 */
export function completeEvent(event, now = Date.now()) {
  const complete = { ...event };
  if (complete.id === undefined || complete.id === null || complete.id === '') complete.id = newEventId(now);
  if (complete.ts instanceof Date || typeof complete.ts === 'number') {
    const time = new Date(complete.ts);
    complete.ts = Number.isNaN(time.getTime()) ? String(complete.ts) : time.toISOString();
  }
  if (complete.ts === undefined || complete.ts === null) complete.ts = new Date(now).toISOString();
  return complete;
}

/**
 * What is wrong with an event, as meterr would say it, or `null` when it may be sent.
 * @param {object} event
 * @returns {string | null}
 */
export function validateEvent(event) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return 'an event must be an object';
  const { id, ts, model, provider, tags } = event;
  if (typeof id !== 'string' || id.length === 0 || utf8Length(id) > 128) return 'id: must be 1 to 128 characters';
  if (!isTimestamp(ts)) return 'ts: must be an RFC 3339 time';
  if (Number(ts.slice(0, 4)) < 1970) return 'ts: must be between 1970 and 9999';
  if (!PROVIDERS.includes(provider)) return `provider: must be one of ${PROVIDERS.join(', ')}`;
  if (typeof model !== 'string' || model.length === 0 || utf8Length(model) > 256) {
    return 'model: must be 1 to 256 characters';
  }
  for (const name of SHORT_STRINGS) {
    const value = event[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') return `${name}: must be a string`;
    if (utf8Length(value) > 256) return `${name}: must be at most 256 characters`;
  }
  if (tags !== undefined && tags !== null) {
    if (typeof tags !== 'object' || Array.isArray(tags)) return 'tags: must be an object of strings';
    const entries = Object.entries(tags);
    if (entries.length > 64) return 'tags: at most 64 tags';
    for (const [key, value] of entries) {
      if (typeof value !== 'string') return 'tags: values must be strings';
      if (key.length === 0 || utf8Length(key) > 128 || utf8Length(value) > 256) {
        return 'tags: tag keys must be 1 to 128 characters and values at most 256';
      }
    }
  }
  for (const name of TOKEN_FIELDS) {
    const value = event[name];
    const required = name === 'input_tokens' || name === 'output_tokens';
    if (value === undefined && !required) continue;
    if (!isCount(value)) return `${name}: must be a whole number, 0 or more`;
  }
  const cacheParts =
    (event.cache_read_tokens ?? 0) + (event.cache_write_tokens ?? 0) + (event.cache_write_1h_tokens ?? 0);
  if (event.input_tokens < cacheParts) {
    return 'input_tokens: counts all prompt tokens and must be at least cache_read_tokens + cache_write_tokens + cache_write_1h_tokens';
  }
  if (event.output_tokens < (event.reasoning_tokens ?? 0)) {
    return 'output_tokens: includes reasoning tokens and must be at least reasoning_tokens';
  }
  for (const name of ['status', 'latency_ms', 'ttft_ms']) {
    const value = event[name];
    if (value !== undefined && value !== null && !isCount(value)) return `${name}: must be a whole number, 0 or more`;
  }
  if (event.stream !== undefined && typeof event.stream !== 'boolean') return 'stream: must be true or false';
  if (event.usage_source !== undefined && event.usage_source !== 'reported' && event.usage_source !== 'estimated') {
    return 'usage_source: must be reported or estimated';
  }
  const cost = event.cost_usd;
  if (cost !== undefined && cost !== null) {
    if (typeof cost !== 'string' && typeof cost !== 'number') return 'cost_usd: must be a decimal string';
    if (!/^\d+(\.\d+)?$/.test(String(cost))) return 'cost_usd: must be a decimal number, 0 or more';
  }
  return null;
}
