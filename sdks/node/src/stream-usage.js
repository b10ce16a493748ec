// OpenAI (and Azure OpenAI) Chat Completions and legacy Completions streams send their usage only
// when asked (`stream_options.include_usage`). Like meterr's gateway, meteredFetch asks when the
// app did not, and takes the extra usage chunk out again, so the app reads the stream it asked for
// (Sources/MeterrProviders/OpenAI/OpenAIProfile.swift and UsageChunkStripper.swift).

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const INSERT = '"stream_options":{"include_usage":true}';

/** Whether a call of this provider and endpoint gets its stream's usage only when asked. */
export function sendsStreamUsageOnlyWhenAsked(provider, endpoint) {
  return (provider === 'openai' || provider === 'azure') && (endpoint === 'chat.completions' || endpoint === 'completions');
}

/**
 * The body with `"stream_options":{"include_usage":true}` added right after its opening brace,
 * every other byte as sent; `null` when the body is not an object. The result has the body's type
 * (a string stays a string, bytes stay bytes).
 * @param {string | Uint8Array} body a JSON object without top-level `stream_options`
 * @returns {string | Uint8Array | null}
 */
export function requestingUsage(body) {
  if (typeof body === 'string') {
    const open = body.indexOf('{');
    if (open < 0) return null;
    const rest = body.slice(open + 1);
    const comma = /[^\s}]/.test(rest) ? ',' : '';
    return body.slice(0, open + 1) + INSERT + comma + rest;
  }
  const open = body.indexOf(0x7b);
  if (open < 0) return null;
  const rest = body.subarray(open + 1);
  const comma = rest.some((byte) => byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09 && byte !== 0x7d);
  const insert = encoder.encode(INSERT + (comma ? ',' : ''));
  const out = new Uint8Array(body.length + insert.length);
  out.set(body.subarray(0, open + 1), 0);
  out.set(insert, open + 1);
  out.set(rest, open + 1 + insert.length);
  return out;
}

/**
 * Drops the usage chunk asked for on the app's behalf (`data: {… "choices": [], "usage": {…}}`);
 * every other byte passes as it came, whole events at a time.
 */
export class UsageChunkStripper {
  constructor() {
    this.pending = new Uint8Array(0);
  }

  /**
   * The bytes of `chunk` that may reach the app (whole events only; the rest is held).
   * @param {Uint8Array} chunk
   * @returns {Uint8Array}
   */
  pass(chunk) {
    const bytes = concat(this.pending, chunk);
    const parts = [];
    let start = 0;
    let index = 0;
    while (index + 1 < bytes.length) {
      let end = -1;
      if (bytes[index] === 0x0a && bytes[index + 1] === 0x0a) end = index + 2;
      else if (
        index + 3 < bytes.length &&
        bytes[index] === 0x0d &&
        bytes[index + 1] === 0x0a &&
        bytes[index + 2] === 0x0d &&
        bytes[index + 3] === 0x0a
      ) {
        end = index + 4;
      }
      if (end < 0) {
        index += 1;
        continue;
      }
      const event = bytes.subarray(start, end);
      if (!isUsageOnlyChunk(event)) parts.push(event);
      start = end;
      index = end;
    }
    this.pending = bytes.slice(start);
    return parts.length === 1 ? parts[0] : concat(...parts);
  }

  /** What is held, at the end of the stream. */
  flush() {
    const rest = this.pending;
    this.pending = new Uint8Array(0);
    return rest;
  }
}

/** `data: {… "choices": [], "usage": {…}}`: the extra chunk `include_usage` adds. */
export function isUsageOnlyChunk(event) {
  const text = decoder.decode(event);
  if (!text.includes('"usage"')) return false;
  const match = /data:[ ]?([^\r\n]*)/.exec(text);
  if (!match) return false;
  try {
    const json = JSON.parse(match[1]);
    return Array.isArray(json?.choices) && json.choices.length === 0 && json.usage !== null && json.usage !== undefined;
  } catch {
    return false;
  }
}

function concat(...arrays) {
  const length = arrays.reduce((sum, array) => sum + array.length, 0);
  const out = new Uint8Array(length);
  let offset = 0;
  for (const array of arrays) {
    out.set(array, offset);
    offset += array.length;
  }
  return out;
}
