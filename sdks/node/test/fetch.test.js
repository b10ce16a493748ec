// meteredFetch against a stand-in provider that streams the recorded answers event by event (and
// can hold a stream open): what goes upstream, what the app reads, and the one event per call.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { meteredFetch } from '../index.js';
import { anthropicRequest, captureReporter, consumeBytes, consumeSSE, fixture, openAIRequest, text } from './helpers.js';
import { sseEvents, startUpstream } from './servers.js';

const SSE = { 'content-type': 'text/event-stream', 'x-request-id': 'req-upstream-1' };
const JSON_HEADERS = { 'content-type': 'application/json', 'x-request-id': 'req-upstream-2' };
const chat = (extra = {}) => ({
  model: 'gpt-4.1',
  messages: [{ role: 'user', content: 'What is the capital of France?' }],
  ...extra,
});
const estimateOf = (string) => Math.ceil(new TextEncoder().encode(string).length / 4);
const withoutUsageChunk = (bytes) =>
  sseEvents(bytes)
    .map(text)
    .filter((event) => !event.includes('"choices":[]'))
    .join('');

describe('meteredFetch', { timeout: 120_000 }, () => {
  let upstream;
  let release; // ends a held stream
  before(async () => {
    upstream = await startUpstream(() => ({ status: 500 }));
  });
  after(() => {
    release?.();
    return upstream.close();
  });

  const serve = (name, headers = SSE, { hold = false, events } = {}) => {
    const held = hold ? new Promise((resolve) => (release = resolve)) : null;
    upstream.handle = () => ({ headers, events: events ?? sseEvents(fixture(name)), hold: held });
  };
  const lastRequest = () => upstream.requests[upstream.requests.length - 1];

  it('asks an OpenAI chat stream for its usage and hides the extra chunk from the app', async () => {
    serve('openai-chat.sse');
    const reporter = captureReporter();
    const fetchMetered = meteredFetch({ reporter, team: 'search', user: 'ana', project: 'beta', tags: { env: 'test' } });
    const { url, init, controller } = openAIRequest({ baseURL: `${upstream.url}/v1`, apiKey: 'sk-test', path: '/chat/completions', body: chat({ stream: true }), helper: true });
    const response = await fetchMetered(url, init);
    const { bytes, items } = await consumeSSE(response, controller);

    const sent = lastRequest();
    assert.equal(text(sent.body), '{"stream_options":{"include_usage":true},' + init.body.slice(1), 'only stream_options was added');
    for (const [name, value] of init.headers) {
      if (name !== 'content-length') assert.equal(sent.headers[name], value, `header ${name} went as the SDK set it`);
    }
    assert.equal(text(bytes), withoutUsageChunk(fixture('openai-chat.sse')));
    assert.equal(items.filter((item) => item.usage).length, 0, 'the app saw no usage chunk');
    assert.equal(response.headers.get('content-length'), null);

    const event = await reporter.next();
    assert.match(event.id, /^evt_/);
    assert.deepEqual(
      { ...event, id: undefined, ts: undefined, latency_ms: undefined, ttft_ms: undefined },
      {
        id: undefined, ts: undefined, latency_ms: undefined, ttft_ms: undefined,
        team: 'search', user: 'ana', project: 'beta', tags: { env: 'test' },
        provider: 'openai', model: 'gpt-4.1-2025-04-14', model_requested: 'gpt-4.1', endpoint: 'chat.completions',
        input_tokens: 12, cache_read_tokens: 0, cache_write_tokens: 0, cache_write_1h_tokens: 0,
        output_tokens: 2, reasoning_tokens: 0, usage_source: 'reported', stream: true, status: 200,
        upstream_request_id: 'req-upstream-1', route: 'sdk',
      },
    );
    assert.ok(Number.isInteger(event.latency_ms) && Number.isInteger(event.ttft_ms));
    assert.equal(reporter.events.length, 1);
  });

  it('sends a stream that asked for its usage byte for byte, and the app reads every byte', async () => {
    serve('openai-chat.sse');
    const reporter = captureReporter();
    const { url, init, controller } = openAIRequest({
      baseURL: `${upstream.url}/v1`, apiKey: 'sk-test', path: '/chat/completions',
      body: chat({ stream: true, stream_options: { include_usage: true } }),
    });
    const response = await meteredFetch({ reporter })(url, init);
    const { bytes } = await consumeSSE(response, controller);
    assert.equal(text(lastRequest().body), init.body);
    assert.deepEqual(bytes, fixture('openai-chat.sse'));
    const event = await reporter.next();
    assert.equal(event.input_tokens, 12);
    assert.equal(event.output_tokens, 2);
    assert.equal(event.usage_source, 'reported');
  });

  it('with injectStreamUsage: false, leaves the request alone and estimates a stream that brings no usage', async () => {
    serve('openai-chat-cut.sse');
    const reporter = captureReporter();
    const { url, init, controller } = openAIRequest({ baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions', body: chat({ stream: true }) });
    const response = await meteredFetch({ reporter, injectStreamUsage: false })(url, init);
    const { bytes } = await consumeSSE(response, controller);
    assert.equal(text(lastRequest().body), init.body);
    assert.deepEqual(bytes, fixture('openai-chat-cut.sse'));
    const event = await reporter.next();
    assert.equal(event.usage_source, 'estimated');
    assert.equal(event.input_tokens, estimateOf(init.body), 'input: the request body, 4 bytes a token');
    assert.equal(event.output_tokens, estimateOf('Hello!'), 'output: the text that streamed');
    assert.equal(event.model, 'gpt-4.1-2025-04-14');
  });

  it('reports what was read, estimated, when the app leaves a stream early (break, as the SDKs do)', async () => {
    serve('openai-chat.sse', SSE, { hold: true, events: sseEvents(fixture('openai-chat.sse')).slice(0, 2) });
    const reporter = captureReporter();
    const { url, init, controller } = openAIRequest({ baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions', body: chat({ stream: true }) });
    const response = await meteredFetch({ reporter })(url, init);
    const { items } = await consumeSSE(response, controller, {
      stopAfter: (read) => read.some((item) => item.choices[0]?.delta?.content === 'Hello'),
    });
    assert.equal(items.length, 2);
    assert.equal(controller.signal.aborted, true);
    const event = await reporter.next();
    release();
    assert.equal(event.usage_source, 'estimated');
    assert.equal(event.input_tokens, estimateOf(init.body));
    assert.equal(event.output_tokens, estimateOf('Hello'));
    assert.equal(event.stream, true);
    assert.equal(event.status, 200);
  });

  it('reports a stream the app aborts without reading it: estimated input, nothing streamed', async () => {
    serve('openai-chat.sse', SSE, { hold: true, events: sseEvents(fixture('openai-chat.sse')).slice(0, 2) });
    const reporter = captureReporter();
    const { url, init, controller } = openAIRequest({ baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions', body: chat({ stream: true }) });
    await meteredFetch({ reporter })(url, init);
    controller.abort();
    const event = await reporter.next();
    release();
    assert.deepEqual(
      [event.model, event.usage_source, event.input_tokens, event.output_tokens, event.ttft_ms],
      ['gpt-4.1', 'estimated', estimateOf(init.body), 0, undefined],
    );
  });

  it('counts a stream whose end marker arrived as whole, even if the app stops reading before the body ends', async () => {
    serve('openai-chat.sse', SSE, { hold: true });
    const reporter = captureReporter();
    const { url, init, controller } = openAIRequest({
      baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions',
      body: chat({ stream: true, stream_options: { include_usage: true } }),
    });
    const response = await meteredFetch({ reporter })(url, init);
    await consumeSSE(response, controller, { stopAfter: (_, event) => event.data === '[DONE]' });
    const event = await reporter.next();
    release();
    assert.deepEqual([event.input_tokens, event.output_tokens, event.usage_source], [12, 2, 'reported']);
  });

  it('never reports below what Anthropic said before the app left: input from message_start, output estimated', async () => {
    serve('anthropic-messages.sse', SSE, { hold: true, events: sseEvents(fixture('anthropic-messages.sse')).slice(0, 4) });
    const reporter = captureReporter();
    const { url, init, controller } = anthropicRequest({
      baseURL: upstream.url, apiKey: 'sk-ant', helper: true,
      body: { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }], stream: true },
    });
    const response = await meteredFetch({ reporter })(url, init);
    await consumeSSE(response, controller, { stopAfter: (read) => read.some((item) => item.delta?.text === 'Hello') });
    const event = await reporter.next();
    release();
    assert.equal(text(lastRequest().body), init.body, 'Anthropic requests go as sent');
    assert.equal(event.provider, 'anthropic');
    assert.equal(event.endpoint, 'messages');
    assert.equal(event.usage_source, 'estimated');
    assert.equal(event.input_tokens, 12);
    assert.equal(event.output_tokens, estimateOf('Hello'));
  });

  it('meters a JSON answer read with response.json(), giving the app the provider\'s own response', async () => {
    upstream.handle = () => ({ headers: JSON_HEADERS, events: [fixture('anthropic-messages.json')] });
    const reporter = captureReporter();
    const { url, init } = anthropicRequest({ baseURL: upstream.url, apiKey: 'sk-ant', body: { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [] } });
    const response = await meteredFetch({ reporter })(url, init);
    assert.deepEqual(await response.json(), JSON.parse(text(fixture('anthropic-messages.json'))));
    assert.equal(response.url, url);
    const event = await reporter.next();
    assert.deepEqual(
      [event.input_tokens, event.cache_read_tokens, event.cache_write_tokens, event.cache_write_1h_tokens, event.output_tokens],
      [12_060, 10_000, 2048, 0, 11],
    );
    assert.equal(event.stream, false);
    assert.equal(event.ttft_ms, undefined);
    assert.equal(event.upstream_request_id, 'req-upstream-2');
  });

  it('passes calls that cost nothing untouched and reports nothing', async () => {
    upstream.handle = () => ({ headers: JSON_HEADERS, events: [new TextEncoder().encode('{"data":[]}')] });
    const reporter = captureReporter();
    const returned = [];
    const fetchMetered = meteredFetch({
      reporter,
      fetch: async (...args) => {
        const response = await fetch(...args);
        returned.push(response);
        return response;
      },
    });
    const models = await fetchMetered(`${upstream.url}/v1/models`, { headers: { authorization: 'Bearer sk' } });
    const count = await fetchMetered(`${upstream.url}/v1/messages/count_tokens`, { method: 'POST', body: '{"model":"claude-sonnet-4-5","messages":[]}' });
    const unknown = await fetchMetered(`${upstream.url}/v1/files`, { method: 'POST', body: '{}' });
    assert.deepEqual([models, count, unknown], returned, 'the very responses fetch returned');
    await Promise.all(returned.map((response) => response.text()));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(reporter.events.length, 0);
  });

  it('takes x-meterr-* request headers as the call\'s attribution and does not send them on', async () => {
    serve('openai-chat.sse');
    const reporter = captureReporter();
    const { url, init, controller } = openAIRequest({
      baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions', body: chat({ stream: true, user: 'body-user' }),
      headers: { 'x-meterr-team': 'billing', 'x-meterr-tags': 'feature=summary, env=prod' },
    });
    await consumeSSE(await meteredFetch({ reporter, team: 'search', tags: { env: 'dev', app: 'web' } })(url, init), controller);
    const event = await reporter.next();
    assert.equal(event.team, 'billing');
    assert.equal(event.user, 'body-user', 'OpenAI\'s user field attributes when no user is set');
    assert.deepEqual(event.tags, { env: 'prod', app: 'web', feature: 'summary' });
    assert.equal(Object.keys(lastRequest().headers).filter((name) => name.startsWith('x-meterr-')).length, 0);
  });

  it('records a provider error with its status and no tokens, the app reading the error as sent', async () => {
    const error = new TextEncoder().encode('{"error":{"message":"Rate limit","type":"rate_limit_exceeded"}}');
    upstream.handle = () => ({ status: 429, headers: { 'content-type': 'application/json' }, events: [error] });
    const reporter = captureReporter();
    const { url, init } = openAIRequest({ baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions', body: chat() });
    const response = await meteredFetch({ reporter })(url, init);
    assert.equal(response.status, 429);
    assert.deepEqual(await consumeBytes(response), error);
    const event = await reporter.next();
    assert.equal(event.status, 429);
    assert.equal(event.input_tokens, 0);
    assert.equal(event.output_tokens, 0);
    assert.equal(event.usage_source, 'reported');
  });

  it('passes a failed fetch\'s error to the app unchanged and reports nothing', async () => {
    const reporter = captureReporter();
    const failure = new TypeError('fetch failed');
    const fetchMetered = meteredFetch({ reporter, fetch: () => Promise.reject(failure) });
    const { url, init } = openAIRequest({ baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions', body: chat() });
    await assert.rejects(fetchMetered(url, init), (error) => error === failure);
    assert.equal(reporter.events.length, 0);
  });

  it('meters a Request object, asking its stream for usage too', async () => {
    serve('openai-chat.sse');
    const reporter = captureReporter();
    const body = JSON.stringify(chat({ stream: true }));
    const request = new Request(`${upstream.url}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const response = await meteredFetch({ reporter })(request);
    assert.equal(await response.text(), withoutUsageChunk(fixture('openai-chat.sse')));
    assert.equal(text(lastRequest().body), '{"stream_options":{"include_usage":true},' + body.slice(1));
    assert.equal(lastRequest().headers['content-type'], 'application/json');
    assert.equal((await reporter.next()).output_tokens, 2);
  });

  it('keeps the stream\'s status, headers and url on the response the app gets', async () => {
    serve('anthropic-messages.sse', { ...SSE, 'x-custom': 'kept' });
    const reporter = captureReporter();
    const { url, init, controller } = anthropicRequest({ baseURL: upstream.url, apiKey: 'sk', body: { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [], stream: true } });
    const response = await meteredFetch({ reporter })(url, init);
    assert.equal(response.status, 200);
    assert.equal(response.ok, true);
    assert.equal(response.headers.get('x-custom'), 'kept');
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    assert.equal(response.url, url);
    const { bytes } = await consumeSSE(response, controller);
    assert.deepEqual(bytes, fixture('anthropic-messages.sse'));
    const event = await reporter.next();
    assert.deepEqual([event.input_tokens, event.output_tokens, event.usage_source], [12, 9, 'reported']);
  });

  it('infers Gemini and Azure from their paths and reads the model the path names', async () => {
    const reporter = captureReporter();
    const fetchMetered = meteredFetch({ reporter });
    upstream.handle = () => ({ headers: { 'content-type': 'application/json' }, events: [fixture('gemini-generate-array.json')] });
    const gemini = await fetchMetered(`${upstream.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"contents":[{"parts":[{"text":"hi"}]}]}',
    });
    assert.deepEqual(await consumeBytes(gemini), fixture('gemini-generate-array.json'));
    upstream.handle = () => ({ headers: { 'content-type': 'application/json' }, events: [fixture('azure-chat.json')] });
    const azure = await fetchMetered(`${upstream.url}/openai/deployments/prod-gpt41/chat/completions?api-version=2024-10-21`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'api-key': 'az' }, body: '{"messages":[]}',
    });
    await azure.text();
    const [first, second] = [await reporter.next(1), await reporter.next(2)];
    assert.deepEqual(
      [first.provider, first.endpoint, first.model, first.model_requested, first.stream, first.input_tokens, first.output_tokens, first.reasoning_tokens],
      ['gemini', 'streamGenerateContent', 'gemini-2.5-flash', 'gemini-2.5-flash', true, 8, 54, 45],
    );
    assert.deepEqual(
      [second.provider, second.endpoint, second.model, second.model_requested, second.input_tokens, second.cache_read_tokens],
      ['azure', 'chat.completions', 'gpt-4.1-2025-04-14', 'prod-gpt41', 2100, 1920],
    );
  });

  it('never fails the app\'s call when reporting throws', async () => {
    serve('openai-chat.sse');
    const broken = { report() { throw new Error('broken reporter'); } };
    const { url, init, controller } = openAIRequest({ baseURL: `${upstream.url}/v1`, apiKey: 'sk', path: '/chat/completions', body: chat({ stream: true, stream_options: { include_usage: true } }) });
    const { bytes } = await consumeSSE(await meteredFetch({ reporter: broken })(url, init), controller);
    assert.deepEqual(bytes, fixture('openai-chat.sse'));
  });
});
