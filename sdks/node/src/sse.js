// Splits a streamed response body into events as its bytes arrive, in any chunking: server-sent
// events, NDJSON lines, or the elements of a streamed JSON array (Gemini without `alt=sse`). The
// same rules as meterr's StreamScanner (Sources/MeterrProviders/StreamScanner.swift).

/** @typedef {'sse' | 'jsonLines' | 'jsonArray'} Framing */
/** @typedef {{ name: string | null, data: string }} StreamEvent */

/**
 * The framing a response's content type implies.
 * @param {string | null | undefined} contentType
 * @returns {Framing}
 */
export function framingForContentType(contentType) {
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('event-stream')) return 'sse';
  if (type.includes('ndjson') || type.includes('jsonl') || type.includes('stream+json')) return 'jsonLines';
  if (type.includes('json')) return 'jsonArray';
  return 'sse';
}

const LINE_END = /\r\n|\r|\n/g;

/**
 * Server-sent events follow the WHATWG rules: `event:` and `data:` fields (one optional space after
 * the colon, several `data:` lines joined by a newline), comments starting with `:`, and `\n`,
 * `\r\n` or `\r` line ends; an event is dispatched at a blank line. A line that starts with `{` is
 * taken as a whole event, for streams that send bare JSON lines.
 */
export class StreamScanner {
  /**
   * @param {Framing} [framing]
   * @param {{maxEventChars?: number}} [options] longer events are cut (their usage is then lost, never misread)
   */
  constructor(framing = 'sse', { maxEventChars = 8 << 20 } = {}) {
    this.framing = framing;
    this.maxEventChars = maxEventChars;
    this.decoder = new TextDecoder('utf-8');
    this.line = '';
    this.lastWasCarriageReturn = false;
    this.name = null;
    this.data = '';
    this.hasData = false;
    // JSON-array mode: nesting depth and string state of the element being read.
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.arrayOpened = false;
    this.element = '';
  }

  /**
   * Reads more bytes, calling `emit` for each event they complete.
   * @param {Uint8Array | string} chunk
   * @param {(event: StreamEvent) => void} emit
   */
  feed(chunk, emit) {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.framing === 'jsonArray') this.feedArray(text, emit);
    else this.feedLines(text, emit);
  }

  /**
   * Ends the stream: an event still pending (no blank line after it) is dispatched; an array
   * element cut off by the end is not an event.
   * @param {(event: StreamEvent) => void} emit
   */
  finish(emit) {
    const rest = this.decoder.decode();
    if (rest) this.feed(rest, emit);
    if (this.framing === 'jsonArray') return;
    if (this.line.length > 0) this.endLine(emit);
    if (this.hasData) this.dispatch(emit);
  }

  feedLines(text, emit) {
    let start = 0;
    if (this.lastWasCarriageReturn && text.startsWith('\n')) start = 1;
    this.lastWasCarriageReturn = false;
    LINE_END.lastIndex = start;
    let match;
    while ((match = LINE_END.exec(text)) !== null) {
      this.append(text.slice(start, match.index));
      this.endLine(emit);
      start = match.index + match[0].length;
      // A `\r` at the very end may be the first half of `\r\n`.
      if (match[0] === '\r' && start === text.length) this.lastWasCarriageReturn = true;
    }
    this.append(text.slice(start));
  }

  append(text) {
    if (this.line.length < this.maxEventChars) this.line += text.slice(0, this.maxEventChars - this.line.length);
  }

  endLine(emit) {
    const line = this.line;
    this.line = '';
    if (this.framing === 'jsonLines') {
      if (line.trim().length > 0) emit({ name: null, data: line });
      return;
    }
    if (line.length === 0) {
      this.dispatch(emit);
      return;
    }
    if (line[0] === ':') return;
    if (line[0] === '{') {
      if (this.hasData) this.dispatch(emit);
      emit({ name: null, data: line });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      if (this.hasData) this.data += '\n';
      if (this.data.length + value.length <= this.maxEventChars) this.data += value;
      this.hasData = true;
    } else if (field === 'event') {
      this.name = value;
    }
  }

  dispatch(emit) {
    if (this.hasData) emit({ name: this.name, data: this.data });
    this.name = null;
    this.data = '';
    this.hasData = false;
  }

  feedArray(text, emit) {
    let start = -1; // where the part of the current element in `text` begins
    for (let index = 0; index < text.length; index++) {
      const char = text[index];
      if (this.depth === 0) {
        // Between elements: only the opening of the next object or array matters.
        if (char === '{' || (char === '[' && this.arrayOpened)) {
          this.depth = 1;
          this.element = '';
          start = index;
        } else if (char === '[') {
          this.arrayOpened = true;
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (char === '\\') this.escaped = true;
        else if (char === '"') this.inString = false;
        continue;
      }
      if (char === '"') this.inString = true;
      else if (char === '{' || char === '[') this.depth += 1;
      else if (char === '}' || char === ']') {
        this.depth -= 1;
        if (this.depth === 0) {
          this.appendElement(text.slice(start < 0 ? 0 : start, index + 1));
          emit({ name: null, data: this.element });
          this.element = '';
          start = -1;
        }
      }
    }
    if (this.depth > 0) this.appendElement(text.slice(start < 0 ? 0 : start));
  }

  appendElement(text) {
    if (this.element.length < this.maxEventChars) this.element += text;
  }
}
