// The usage readers against every recorded provider answer in the repository (the same table as
// Tests/MeterrProvidersTests/UsageConformanceTests.swift), whole, in 7-byte pieces and with CRLF
// line ends; the stream scanner's framing rules; the usage-chunk stripper and body rewrite.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamScanner, framingForContentType } from '../src/sse.js';
import { UsageChunkStripper, isUsageOnlyChunk, requestingUsage } from '../src/stream-usage.js';
import { createUsageTap, makeUsage, readUsage } from '../src/usage.js';
import { fixture, text } from './helpers.js';

const usage = (parts) => makeUsage(parts);
const cache1h = usage({
  input_tokens: 5010,
  cache_read_tokens: 3000,
  cache_write_tokens: 500,
  cache_write_1h_tokens: 1500,
  output_tokens: 300,
});

const cases = [
  { fixture: 'openai-chat.json', provider: 'openai', endpoint: 'chat.completions', framing: null,
    usage: usage({ input_tokens: 1200, cache_read_tokens: 1024, output_tokens: 8 }), model: 'gpt-4.1-2025-04-14' },
  { fixture: 'openai-chat.sse', provider: 'openai', endpoint: 'chat.completions', framing: 'sse',
    usage: usage({ input_tokens: 12, output_tokens: 2 }), model: 'gpt-4.1-2025-04-14', text: 'Hello!' },
  { fixture: 'openai-chat-cut.sse', provider: 'openai', endpoint: 'chat.completions', framing: 'sse',
    usage: null, model: 'gpt-4.1-2025-04-14', finished: false, text: 'Hello!' },
  { fixture: 'openai-responses.json', provider: 'openai', endpoint: 'responses', framing: null,
    usage: usage({ input_tokens: 10, output_tokens: 25, reasoning_tokens: 19 }), model: 'o4-mini-2025-04-16' },
  { fixture: 'openai-responses.sse', provider: 'openai', endpoint: 'responses', framing: 'sse',
    usage: usage({ input_tokens: 9, output_tokens: 3 }), model: 'gpt-4.1-2025-04-14', text: 'Hello!' },
  { fixture: 'openai-embeddings.json', provider: 'openai', endpoint: 'embeddings', framing: null,
    usage: usage({ input_tokens: 5 }), model: 'text-embedding-3-small' },
  { fixture: 'azure-chat.json', provider: 'azure', endpoint: 'chat.completions', framing: null,
    usage: usage({ input_tokens: 2100, cache_read_tokens: 1920, output_tokens: 3 }), model: 'gpt-4.1-2025-04-14' },
  { fixture: 'azure-chat.sse', provider: 'azure', endpoint: 'chat.completions', framing: 'sse',
    usage: usage({ input_tokens: 14, output_tokens: 75, reasoning_tokens: 64 }), model: 'gpt-5-mini-2025-08-07', text: 'Paris' },
  { fixture: 'anthropic-messages.json', provider: 'anthropic', endpoint: 'messages', framing: null,
    usage: usage({ input_tokens: 12_060, cache_read_tokens: 10_000, cache_write_tokens: 2048, output_tokens: 11 }),
    model: 'claude-sonnet-4-5-20250929' },
  { fixture: 'anthropic-messages.sse', provider: 'anthropic', endpoint: 'messages', framing: 'sse',
    usage: usage({ input_tokens: 12, output_tokens: 9 }), model: 'claude-sonnet-4-5-20250929', text: 'Hello! How can I help?' },
  { fixture: 'anthropic-messages-cache-1h.json', provider: 'anthropic', endpoint: 'messages', framing: null,
    usage: cache1h, model: 'claude-sonnet-4-5-20250929' },
  // The final message_delta repeats only the cache-write total: the 5m/1h split of message_start must survive.
  { fixture: 'anthropic-messages-cache-1h.sse', provider: 'anthropic', endpoint: 'messages', framing: 'sse',
    usage: cache1h, model: 'claude-sonnet-4-5-20250929', text: 'The contract renews on 1 March.' },
  { fixture: 'anthropic-messages-error.sse', provider: 'anthropic', endpoint: 'messages', framing: 'sse',
    usage: usage({ input_tokens: 12, output_tokens: 1 }), model: 'claude-sonnet-4-5-20250929', finished: false, error: 'Overloaded' },
  { fixture: 'gemini-generate.json', provider: 'gemini', endpoint: 'generateContent', framing: null,
    usage: usage({ input_tokens: 250_000, cache_read_tokens: 200_000, output_tokens: 129, reasoning_tokens: 120 }), model: 'gemini-2.5-pro' },
  { fixture: 'gemini-generate.sse', provider: 'gemini', endpoint: 'streamGenerateContent', framing: 'sse',
    usage: usage({ input_tokens: 8, output_tokens: 54, reasoning_tokens: 45 }), model: 'gemini-2.5-flash', text: 'Hello! How can I help?' },
  { fixture: 'gemini-generate-array.json', provider: 'gemini', endpoint: 'streamGenerateContent', framing: 'jsonArray',
    usage: usage({ input_tokens: 8, output_tokens: 54, reasoning_tokens: 45 }), model: 'gemini-2.5-flash', text: 'Hello! How can I help?' },
  { fixture: 'mistral-chat.json', provider: 'mistral', endpoint: 'chat.completions', framing: null,
    usage: usage({ input_tokens: 10, output_tokens: 4 }), model: 'mistral-medium-2508' },
  { fixture: 'mistral-chat.sse', provider: 'mistral', endpoint: 'chat.completions', framing: 'sse',
    usage: usage({ input_tokens: 10, output_tokens: 4 }), model: 'mistral-medium-2508', text: 'Bonjour !' },
  { fixture: 'cohere-chat.json', provider: 'cohere', endpoint: 'chat', framing: null,
    usage: usage({ input_tokens: 21, output_tokens: 9 }) },
  { fixture: 'cohere-chat.sse', provider: 'cohere', endpoint: 'chat', framing: 'sse',
    usage: usage({ input_tokens: 21, output_tokens: 4 }), text: 'Coca-Cola.' },
  { fixture: 'cohere-chat-v1.json', provider: 'cohere', endpoint: 'chat.v1', framing: null,
    usage: usage({ input_tokens: 21, output_tokens: 9 }) },
  { fixture: 'cohere-chat-v1.ndjson', provider: 'cohere', endpoint: 'chat.v1', framing: 'jsonLines',
    usage: usage({ input_tokens: 21, output_tokens: 2 }), text: 'Hi' },
];

/** Reads a fixture as meteredFetch does: whole, or streamed in pieces of `size` bytes. */
function read(item, bytes, size = 7) {
  if (item.framing === null) return readUsage(item.provider, item.endpoint, text(bytes));
  const scanner = new StreamScanner(item.framing);
  const tap = createUsageTap(item.provider, item.endpoint);
  for (let start = 0; start < bytes.length; start += size) {
    scanner.feed(bytes.subarray(start, start + size), (event) => tap.consume(event));
  }
  scanner.finish((event) => tap.consume(event));
  return tap.reading;
}

describe('usage read from every provider\'s recorded answers', () => {
  for (const item of cases) {
    it(`${item.fixture}: exact token counts, model, end and error`, () => {
      const reading = read(item, fixture(item.fixture));
      assert.deepEqual(reading.usage, item.usage);
      if (item.model) assert.equal(reading.model, item.model);
      assert.equal(reading.finished, item.finished ?? true);
      assert.equal(reading.error, item.error ?? null);
      if (item.text !== undefined) assert.equal(reading.outputText, item.text);
    });
  }

  it('reads every stream the same in any chunking and with CRLF or CR line ends', () => {
    for (const item of cases.filter((entry) => entry.framing !== null)) {
      const bytes = fixture(item.fixture);
      const expected = read(item, bytes, bytes.length);
      for (const size of [1, 2, 3, 64]) {
        assert.deepEqual(read(item, bytes, size), expected, `${item.fixture} in pieces of ${size}`);
      }
      if (item.framing === 'jsonArray') continue;
      for (const ending of ['\r\n', '\r']) {
        const converted = new TextEncoder().encode(text(bytes).replaceAll('\n', ending));
        assert.deepEqual(read(item, converted, 5), expected, `${item.fixture} with ${JSON.stringify(ending)}`);
      }
    }
  });
});

describe('StreamScanner', () => {
  const scan = (framing, input, size = 3) => {
    const events = [];
    const scanner = new StreamScanner(framing);
    for (let start = 0; start < input.length; start += size) scanner.feed(input.slice(start, start + size), (e) => events.push(e));
    scanner.finish((e) => events.push(e));
    return events;
  };

  it('joins multi-line data, keeps event names, skips comments, dispatches an unterminated last event', () => {
    const events = scan('sse', ': comment\nevent: a\ndata: one\ndata:two\n\ndata: three');
    assert.deepEqual(events, [
      { name: 'a', data: 'one\ntwo' },
      { name: null, data: 'three' },
    ]);
  });

  it('takes bare JSON lines as events, and splits JSON arrays with brackets inside strings', () => {
    assert.equal(scan('sse', '{"a":1}\n').length, 1);
    const elements = scan('jsonArray', '[{"a":"}{[\\"]"},\n{"b":[1,{"c":2}]}]', 2).map((e) => e.data);
    assert.deepEqual(elements, ['{"a":"}{[\\"]"}', '{"b":[1,{"c":2}]}']);
  });

  it('picks the framing from the content type', () => {
    assert.equal(framingForContentType('text/event-stream; charset=utf-8'), 'sse');
    assert.equal(framingForContentType('application/x-ndjson'), 'jsonLines');
    assert.equal(framingForContentType('application/json'), 'jsonArray');
    assert.equal(framingForContentType(null), 'sse');
  });

  it('decodes UTF-8 split across chunks', () => {
    const bytes = new TextEncoder().encode('data: {"t":"héllo → ✓"}\n\n');
    const events = [];
    const scanner = new StreamScanner('sse');
    for (const byte of bytes) scanner.feed(new Uint8Array([byte]), (e) => events.push(e));
    assert.deepEqual(events, [{ name: null, data: '{"t":"héllo → ✓"}' }]);
  });
});

describe('asking OpenAI streams for their usage', () => {
  it('adds stream_options right after the opening brace, every other byte as sent', () => {
    const body = '{"model":"gpt-4.1","stream":true,"messages":[]}';
    assert.equal(requestingUsage(body), '{"stream_options":{"include_usage":true},"model":"gpt-4.1","stream":true,"messages":[]}');
    assert.equal(requestingUsage(' { } '), ' {"stream_options":{"include_usage":true} } ');
    const bytes = new TextEncoder().encode(body);
    assert.equal(text(requestingUsage(bytes)), requestingUsage(body));
    assert.equal(requestingUsage('[1]'), null);
  });

  it('strips only the usage-only chunk, in any chunking, and passes every other byte', () => {
    const sse = fixture('openai-chat.sse');
    const events = text(sse).split(/(?<=\n\n)/);
    const usageEvent = events.find((event) => event.includes('"choices":[]'));
    const expected = events.filter((event) => event !== usageEvent).join('');
    assert.notEqual(expected.length, text(sse).length);
    for (const size of [1, 5, 64, sse.length]) {
      const stripper = new UsageChunkStripper();
      let out = '';
      for (let start = 0; start < sse.length; start += size) out += text(stripper.pass(sse.subarray(start, start + size)));
      out += text(stripper.flush());
      assert.equal(out, expected, `pieces of ${size}`);
    }
    // Azure's first chunk has empty choices too, but no usage: it stays.
    assert.equal(isUsageOnlyChunk(new TextEncoder().encode('data: {"choices":[],"usage":null}\n\n')), false);
  });
});
