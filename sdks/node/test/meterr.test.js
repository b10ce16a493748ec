// End to end with a real `meterr serve` and the repository's fake provider: requests shaped as the
// official OpenAI and Anthropic JS SDKs send them, through meteredFetch and through meterr's
// gateway; the events meterr stores must match the fixtures and each other. Then meterr down and
// back, a full buffer, a refused key, and the gateway helpers' attribution.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Reporter, anthropicGatewayOptions, meteredFetch, openAIGatewayOptions } from '../index.js';
import {
  ADMIN_KEY,
  anthropicRequest,
  consumeBytes,
  consumeSSE,
  fixture,
  freePort,
  openAIRequest,
  startFakeProvider,
  startMeterr,
  storedEvents,
  text,
  waitFor,
  waitForStored,
} from './helpers.js';

const RUN = randomUUID().slice(0, 8);
const chat = (extra = {}) => ({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'What is the capital of France?' }], ...extra });
const messages = (extra = {}) => ({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }], ...extra });
const withoutUsageChunk = (bytes) =>
  text(bytes)
    .split(/(?<=\n\n)/)
    .filter((event) => !event.includes('"choices":[]'))
    .join('');

/** Each call: how the SDK makes it (direct to the provider, or through meterr), how it reads the answer, what meterr must store. */
const scenarios = [
  {
    name: 'openai-chat-json', read: 'json', fixture: 'openai-chat.json',
    tokens: { input_tokens: 1200, cache_read_tokens: 1024, output_tokens: 8 }, endpoint: 'chat.completions',
    request: (base, key, headers) => openAIRequest({ baseURL: base.openai, apiKey: key, path: '/chat/completions', body: chat(), headers }),
  },
  {
    name: 'openai-chat-stream-usage-asked', read: 'sse', fixture: 'openai-chat.sse',
    tokens: { input_tokens: 12, output_tokens: 2 }, endpoint: 'chat.completions',
    request: (base, key, headers) => openAIRequest({
      baseURL: base.openai, apiKey: key, path: '/chat/completions', headers,
      body: chat({ stream: true, stream_options: { include_usage: true } }),
    }),
  },
  {
    name: 'openai-chat-stream', read: 'sse', fixture: 'openai-chat.sse', stripped: true,
    tokens: { input_tokens: 12, output_tokens: 2 }, endpoint: 'chat.completions',
    request: (base, key, headers) => openAIRequest({ baseURL: base.openai, apiKey: key, path: '/chat/completions', body: chat({ stream: true }), headers, helper: true }),
  },
  {
    name: 'openai-responses-stream', read: 'sse', fixture: 'openai-responses.sse',
    tokens: { input_tokens: 9, output_tokens: 3 }, endpoint: 'responses',
    request: (base, key, headers) => openAIRequest({ baseURL: base.openai, apiKey: key, path: '/responses', body: { model: 'gpt-4.1', input: 'hi', stream: true }, headers }),
  },
  {
    name: 'openai-embeddings', read: 'json', fixture: 'openai-embeddings.json',
    tokens: { input_tokens: 5, output_tokens: 0 }, endpoint: 'embeddings',
    request: (base, key, headers) => openAIRequest({
      baseURL: base.openai, apiKey: key, path: '/embeddings', headers,
      body: { model: 'text-embedding-3-small', input: 'hi', encoding_format: 'float' },
    }),
  },
  {
    name: 'anthropic-messages-json', read: 'json', fixture: 'anthropic-messages.json',
    tokens: { input_tokens: 12_060, cache_read_tokens: 10_000, cache_write_tokens: 2048, output_tokens: 11 }, endpoint: 'messages',
    request: (base, key, headers) => anthropicRequest({ baseURL: base.anthropic, apiKey: key, body: messages(), headers }),
  },
  {
    name: 'anthropic-messages-stream', read: 'sse', fixture: 'anthropic-messages.sse',
    tokens: { input_tokens: 12, output_tokens: 9 }, endpoint: 'messages',
    request: (base, key, headers) => anthropicRequest({ baseURL: base.anthropic, apiKey: key, body: messages({ stream: true }), headers, helper: true }),
  },
];

/** Makes one SDK-shaped call with `fetchFn` and reads its answer as the SDK would; returns the bytes read. */
async function call(fetchFn, { url, init, controller }, read) {
  const response = await fetchFn(url, init);
  assert.equal(response.status, 200, `${url} answered ${response.status}`);
  return read === 'sse' ? (await consumeSSE(response, controller)).bytes : consumeBytes(response);
}

const TOKEN_FIELDS = ['input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cache_write_1h_tokens', 'output_tokens', 'reasoning_tokens'];
const COMPARED = ['provider', 'model', 'model_requested', 'endpoint', ...TOKEN_FIELDS, 'cost_usd', 'price_id', 'usage_source', 'stream', 'status', 'upstream_request_id'];
const pick = (event, fields) => Object.fromEntries(fields.map((field) => [field, event[field]]));

describe('with a real meterr and the fake provider', { timeout: 120_000 }, () => {
  let provider;
  let meterr;
  let reporter;
  const direct = {};
  const gateway = {};

  before(async () => {
    provider = await startFakeProvider();
    meterr = await startMeterr({ upstream: provider.url });
    reporter = new Reporter({ url: meterr.url, key: ADMIN_KEY, flushInterval: 20, flushOnExit: false });
    direct.openai = `${provider.url}/v1`;
    direct.anthropic = provider.url;
    gateway.openai = `${meterr.url}/openai/v1`;
    gateway.anthropic = `${meterr.url}/anthropic`;
  });

  after(async () => {
    await reporter?.close({ timeout: 1000 });
    await meterr?.stop();
    await provider?.stop();
  });

  for (const scenario of scenarios) {
    it(`${scenario.name}: the app reads the same bytes, and meterr stores the fixture's tokens and the gateway's cost`, async () => {
      const sdkTag = `run=${scenario.name}-sdk-${RUN}`;
      const gatewayTag = `run=${scenario.name}-gateway-${RUN}`;

      const fetchMetered = meteredFetch({ reporter, tags: { run: `${scenario.name}-sdk-${RUN}` } });
      const directBytes = await call(fetchMetered, scenario.request(direct, 'sk-provider-key', {}), scenario.read);
      const gatewayBytes = await call(fetch, scenario.request(gateway, ADMIN_KEY, { 'x-meterr-tags': gatewayTag }), scenario.read);

      const recorded = fixture(scenario.fixture);
      assert.equal(text(directBytes), scenario.stripped ? withoutUsageChunk(recorded) : text(recorded), 'the app read the provider\'s bytes');
      assert.equal(text(directBytes), text(gatewayBytes), 'the app read what it reads through the gateway');

      const [viaSDK] = await waitFor(
        async () => {
          await reporter.flush();
          const events = await storedEvents(meterr.url, sdkTag);
          return events.length > 0 ? events : null;
        },
        { what: `the event tagged ${sdkTag}` },
      );
      const [viaGateway] = await waitForStored(meterr.url, gatewayTag);

      const expected = Object.fromEntries(TOKEN_FIELDS.map((field) => [field, scenario.tokens[field] ?? 0]));
      assert.deepEqual(pick(viaSDK, TOKEN_FIELDS), expected, 'the fixture\'s exact token counts');
      assert.equal(viaSDK.endpoint, scenario.endpoint);
      assert.equal(viaSDK.usage_source, 'reported');
      assert.equal(viaSDK.route, 'sdk');
      assert.match(viaSDK.id, /^evt_/);
      assert.notEqual(viaSDK.cost_usd, null, 'meterr priced it');
      assert.deepEqual(pick(viaSDK, COMPARED), pick(viaGateway, COMPARED), 'the same event as the gateway records');
      assert.equal((await storedEvents(meterr.url, sdkTag)).length, 1, 'one event per call');
    });
  }

  it('the gateway helpers\' options and headers land as the event\'s team, user, project and tags', async () => {
    const tags = { run: `helpers-${RUN}`, env: 'prod' };
    const openai = openAIGatewayOptions({ url: meterr.url, key: ADMIN_KEY, team: 'search', user: 'ana', project: 'beta', tags });
    assert.equal(openai.baseURL, gateway.openai);
    await call(fetch, openAIRequest({ baseURL: openai.baseURL, apiKey: openai.apiKey, path: '/chat/completions', body: chat(), headers: openai.defaultHeaders }), 'json');
    const anthropic = anthropicGatewayOptions({ url: `${meterr.url}/`, key: ADMIN_KEY, team: 'support', tags });
    assert.equal(anthropic.baseURL, gateway.anthropic);
    await call(fetch, anthropicRequest({ baseURL: anthropic.baseURL, apiKey: anthropic.apiKey, body: messages(), headers: anthropic.defaultHeaders }), 'json');

    const events = await waitForStored(meterr.url, `run=helpers-${RUN}`, 2);
    const byProvider = Object.fromEntries(events.map((event) => [event.provider, event]));
    assert.deepEqual(pick(byProvider.openai, ['team', 'user', 'project', 'tags']), { team: 'search', user: 'ana', project: 'beta', tags });
    assert.deepEqual(pick(byProvider.anthropic, ['team', 'user', 'project', 'tags']), { team: 'support', user: null, project: null, tags });
  });

  it('a key meterr refuses (401) is counted as rejected and not retried', async () => {
    const failures = [];
    const refused = new Reporter({ url: meterr.url, key: 'mk_notakeynotakeynotakeynotakey0', flushOnExit: false, onError: (failure) => failures.push(failure) });
    refused.report({ provider: 'openai', model: 'gpt-4.1', input_tokens: 1, output_tokens: 1, tags: { run: `refused-${RUN}` } });
    assert.equal(await refused.flush(), true);
    assert.deepEqual(refused.counters, { sent: 0, retried: 0, dropped: 0, rejected: 1, pending: 0, failedAttempts: 0 });
    assert.equal(failures.length, 1);
    assert.equal(failures[0].status, 401);
    assert.equal(failures[0].retrying, false);
    await refused.close();
    assert.equal((await storedEvents(meterr.url, `run=refused-${RUN}`)).length, 0);
  });

  it('while meterr is down the app\'s calls succeed and events wait; once it is up, flush delivers them all, and a full buffer kept the newest', async () => {
    const port = await freePort();
    const downURL = `http://127.0.0.1:${port}`;
    const options = { url: downURL, key: ADMIN_KEY, initialBackoff: 20, maxBackoff: 200, flushOnExit: false };
    const waiting = new Reporter({ ...options, flushInterval: 10 });
    const overflowing = new Reporter({ ...options, flushInterval: 60_000, bufferLimit: 5 });
    let restarted;
    try {
      const fetchMetered = meteredFetch({ reporter: waiting, tags: { run: `down-${RUN}` } });
      const calls = [scenarios[0], scenarios[2], scenarios[6]];
      for (const scenario of calls) {
        const bytes = await call(fetchMetered, scenario.request(direct, 'sk-provider-key', {}), scenario.read);
        assert.ok(bytes.length > 0);
      }
      await waitFor(() => waiting.counters.pending === calls.length && waiting.counters.failedAttempts >= 1, { what: 'failed deliveries' });
      assert.equal(waiting.counters.sent, 0);

      for (let index = 1; index <= 8; index++) {
        overflowing.report({ id: `overflow-${RUN}-${index}`, provider: 'openai', model: 'gpt-4.1', input_tokens: index, output_tokens: 1, tags: { run: `overflow-${RUN}` } });
      }
      assert.deepEqual(overflowing.counters, { sent: 0, retried: 0, dropped: 3, rejected: 0, pending: 5, failedAttempts: 0 });

      restarted = await startMeterr({ port });
      assert.equal(await waiting.flush({ timeout: 30_000 }), true);
      assert.equal(await overflowing.flush({ timeout: 30_000 }), true);
      assert.equal(waiting.counters.sent, 3);
      assert.equal(waiting.counters.dropped, 0);
      assert.ok(waiting.counters.retried >= 3);
      assert.equal(overflowing.counters.sent, 5);

      const delivered = await storedEvents(restarted.url, `run=down-${RUN}`);
      const tokens = delivered.map((event) => [event.endpoint, event.input_tokens, event.output_tokens, event.usage_source].join(' ')).sort();
      assert.deepEqual(tokens, ['chat.completions 12 2 reported', 'chat.completions 1200 8 reported', 'messages 12 9 reported']);
      const kept = (await storedEvents(restarted.url, `run=overflow-${RUN}`)).map((event) => event.id).sort();
      assert.deepEqual(kept, [4, 5, 6, 7, 8].map((index) => `overflow-${RUN}-${index}`).sort(), 'the oldest three were dropped');
    } finally {
      await waiting.close({ timeout: 1000 });
      await overflowing.close({ timeout: 1000 });
      await restarted?.stop();
    }
  });
});
