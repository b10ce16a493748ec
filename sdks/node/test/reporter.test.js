// The reporter against a stand-in ingest endpoint the test answers request by request: batching,
// retries (same ids), refusals (never retried), the bounded buffer, close, ids, and the flush on
// `beforeExit` in a child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Reporter, newEventId } from '../index.js';
import { freePort } from './helpers.js';
import { startIngest } from './servers.js';

const INDEX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'index.js');
const KEY = 'mk_reportertestreportertest01';

const event = (id, extra = {}) => ({ id, provider: 'openai', model: 'gpt-4.1', input_tokens: 10, output_tokens: 2, ...extra });
const ids = (request) => request.events.map((entry) => entry.id);

/** A reporter that sends only when asked (flush), so each test decides when batches go. */
function reporter(url, options = {}) {
  return new Reporter({ url, key: KEY, flushInterval: 60_000, initialBackoff: 5, maxBackoff: 20, flushOnExit: false, ...options });
}

describe('Reporter', { timeout: 60_000 }, () => {
  let ingest;
  before(async () => {
    ingest = await startIngest();
  });
  after(() => ingest.close());

  it('sends batches of at most maxBatchSize events, in order, with the key and as a JSON array', async () => {
    const r = reporter(ingest.url, { maxBatchSize: 100 });
    for (let index = 0; index < 250; index++) r.report(event(`batch-${index}`));
    const flushed = r.flush();
    const sizes = [];
    for (let request = 0; request < 3; request++) {
      const next = await ingest.next();
      assert.equal(next.method, 'POST');
      assert.equal(next.path, '/api/usage/events');
      assert.equal(next.headers.authorization, `Bearer ${KEY}`);
      assert.equal(next.headers['content-type'], 'application/json');
      assert.equal(next.events[0].id, `batch-${sizes.reduce((a, b) => a + b, 0)}`);
      sizes.push(next.events.length);
      next.answer(200);
    }
    assert.equal(await flushed, true);
    assert.deepEqual(sizes, [100, 100, 50]);
    assert.deepEqual(r.counters, { sent: 250, retried: 0, dropped: 0, rejected: 0, pending: 0, failedAttempts: 0 });
    await r.close();
  });

  it('sends a batch once the oldest event waited flushInterval, without flush()', async () => {
    const r = reporter(ingest.url, { flushInterval: 10 });
    r.report(event('timer-1'));
    const next = await ingest.next();
    assert.deepEqual(ids(next), ['timer-1']);
    next.answer(200);
    await r.close();
    assert.equal(r.counters.sent, 1);
  });

  it('keeps each batch under maxBatchBytes', async () => {
    const r = reporter(ingest.url, { maxBatchBytes: 600 });
    for (let index = 0; index < 6; index++) r.report(event(`bytes-${index}`, { tags: { pad: 'x'.repeat(150) } }));
    const flushed = r.flush();
    let seen = 0;
    while (seen < 6) {
      const next = await ingest.next();
      assert.ok(JSON.stringify(next.events).length <= 600, 'batch over maxBatchBytes');
      seen += next.events.length;
      next.answer(200);
    }
    assert.equal(await flushed, true);
    assert.ok(ingest.received.filter((request) => request.events[0]?.id.startsWith('bytes-')).length >= 3);
    await r.close();
  });

  it('retries a batch that got a 503 or 429 with the same ids, then counts it sent', async () => {
    const r = reporter(ingest.url);
    r.report(event('retry-1'));
    r.report(event('retry-2'));
    const flushed = r.flush();
    const first = await ingest.next();
    first.answer(503);
    const second = await ingest.next();
    second.answer(429);
    const third = await ingest.next();
    assert.deepEqual(ids(first), ['retry-1', 'retry-2']);
    assert.deepEqual(ids(second), ids(first));
    assert.deepEqual(ids(third), ids(first));
    third.answer(200);
    assert.equal(await flushed, true);
    assert.deepEqual(r.counters, { sent: 2, retried: 4, dropped: 0, rejected: 0, pending: 0, failedAttempts: 2 });
    await r.close();
  });

  it('counts a 400 refusal as rejected and never sends that batch again', async () => {
    const failures = [];
    const r = reporter(ingest.url, { onError: (failure) => failures.push(failure) });
    r.report(event('refused-1'));
    r.report(event('refused-2'));
    const flushed = r.flush();
    const refused = await ingest.next();
    refused.answer(400, { error: { code: 'invalid_request', message: 'is bad', field: '[0].model' } });
    assert.equal(await flushed, true);
    r.report(event('after-refusal'));
    const flushedAgain = r.flush();
    const next = await ingest.next();
    assert.deepEqual(ids(next), ['after-refusal'], 'the refused batch came back');
    next.answer(200);
    await flushedAgain;
    assert.deepEqual(r.counters, { sent: 1, retried: 0, dropped: 0, rejected: 2, pending: 0, failedAttempts: 0 });
    assert.deepEqual(failures, [{ status: 400, message: 'invalid_request: [0].model: is bad', events: 2, retrying: false }]);
    await r.close();
  });

  it('turns away invalid events alone, without throwing, and fills in id and ts', async () => {
    const r = reporter(ingest.url);
    const circular = event('circular');
    circular.tags = { self: 'x' };
    circular.extra = circular;
    assert.equal(r.report(undefined), null);
    assert.equal(r.report({ provider: 'openai', input_tokens: 1, output_tokens: 1 }), null, 'no model');
    assert.equal(r.report(event('neg', { input_tokens: -1 })), null);
    assert.equal(r.report(event('cache', { input_tokens: 5, cache_read_tokens: 6 })), null);
    assert.equal(r.report(event('bad-provider', { provider: 'openia' })), null);
    assert.equal(r.report(circular), null);
    const id = r.report({ provider: 'anthropic', model: 'claude-sonnet-4-5', input_tokens: 3, output_tokens: 1 });
    assert.match(id, /^evt_[0-9A-Za-z]{22}$/);
    const flushed = r.flush();
    const next = await ingest.next();
    assert.deepEqual(ids(next), [id]);
    assert.match(next.events[0].ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    next.answer(200);
    await flushed;
    assert.equal(r.counters.rejected, 6);
    assert.equal(r.counters.sent, 1);
    await r.close();
  });

  it('drops the oldest events past bufferLimit and counts them', async () => {
    const r = reporter(ingest.url, { bufferLimit: 5 });
    for (let index = 1; index <= 8; index++) r.report(event(`overflow-${index}`));
    assert.equal(r.counters.dropped, 3);
    assert.equal(r.counters.pending, 5);
    const flushed = r.flush();
    const next = await ingest.next();
    assert.deepEqual(ids(next), [4, 5, 6, 7, 8].map((index) => `overflow-${index}`));
    next.answer(200);
    assert.equal(await flushed, true);
    assert.deepEqual(r.counters, { sent: 5, retried: 0, dropped: 3, rejected: 0, pending: 0, failedAttempts: 0 });
    await r.close();
  });

  it('gives up in-flight events for newer ones when the buffer fills during a delivery that then fails', async () => {
    const r = reporter(ingest.url, { bufferLimit: 3 });
    for (let index = 1; index <= 3; index++) r.report(event(`flight-${index}`));
    const flushed = r.flush();
    const inFlight = await ingest.next();
    assert.deepEqual(ids(inFlight), ['flight-1', 'flight-2', 'flight-3']);
    r.report(event('flight-4'));
    r.report(event('flight-5'));
    assert.equal(r.counters.pending, 3, 'the buffer stays bounded while a batch is in flight');
    inFlight.answer(500);
    const retry = await ingest.next();
    assert.deepEqual(ids(retry), ['flight-3', 'flight-4', 'flight-5']);
    retry.answer(200);
    assert.equal(await flushed, true);
    assert.deepEqual(r.counters, { sent: 3, retried: 1, dropped: 2, rejected: 0, pending: 0, failedAttempts: 1 });
    await r.close();
  });

  it('close() delivers what it can in its time, then drops and counts the rest; later reports are dropped', async () => {
    const port = await freePort(); // nobody listens: every delivery fails
    const r = reporter(`http://127.0.0.1:${port}`);
    r.report(event('closing-1'));
    r.report(event('closing-2'));
    await r.close({ timeout: 100 });
    assert.equal(r.report(event('closing-3')), null);
    const counters = r.counters;
    assert.equal(counters.dropped, 3);
    assert.equal(counters.pending, 0);
    assert.equal(counters.sent, 0);
    assert.ok(counters.failedAttempts >= 1);
  });

  it('flush() says false when the buffer could not be emptied in time', async () => {
    const port = await freePort();
    const r = reporter(`http://127.0.0.1:${port}`);
    r.report(event('unflushed'));
    assert.equal(await r.flush({ timeout: 50 }), false);
    assert.equal(r.counters.pending, 1);
    await r.close({ timeout: 0 });
    assert.equal(r.counters.dropped, 1);
  });
});

describe('event ids', () => {
  it('sort by the time they were made, whatever their random part', () => {
    const times = [0, 1, 61, 62, 1_000, 1_733_000_000_000, 1_733_000_000_001, 1_900_000_000_000, 62 ** 8 - 1];
    const made = times.map((time) => newEventId(time));
    for (const id of made) assert.match(id, /^evt_[0-9A-Za-z]{22}$/);
    assert.deepEqual([...made].sort(), made);
    assert.notEqual(newEventId(5), newEventId(5));
  });
});

describe('delivery on beforeExit', () => {
  const script = (url, extra) => `
    import { Reporter } from ${JSON.stringify(INDEX)};
    const reporter = new Reporter({ url: ${JSON.stringify(url)}, key: 'mk_childchildchildchildchild01', ${extra} });
    reporter.report({ id: 'at-exit', provider: 'openai', model: 'gpt-4.1', input_tokens: 1, output_tokens: 1 });
    process.on('exit', () => console.log(JSON.stringify(reporter.counters)));
  `;
  const run = (source, signal) =>
    new Promise((resolve) => {
      // A child that hangs (a timer keeping it alive) is killed when its test times out.
      const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'], signal });
      child.on('error', () => {});
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('a script that never flushes still delivers its events, and exits by itself', { timeout: 20_000 }, async (t) => {
    const ingest = await startIngest({ auto: () => 200 });
    try {
      const { code, stdout, stderr } = await run(script(ingest.url, ''), t.signal);
      assert.equal(code, 0, stderr);
      assert.deepEqual(ingest.received.map(ids), [['at-exit']]);
      assert.equal(JSON.parse(stdout).sent, 1);
    } finally {
      await ingest.close();
    }
  });

  it('with meterr unreachable, the process still exits once exitTimeout passed, counting the event dropped', { timeout: 20_000 }, async (t) => {
    const port = await freePort();
    const { code, stdout, stderr } = await run(script(`http://127.0.0.1:${port}`, 'exitTimeout: 200, initialBackoff: 20'), t.signal);
    assert.equal(code, 0, stderr);
    const counters = JSON.parse(stdout);
    assert.equal(counters.sent, 0);
    assert.equal(counters.dropped, 1);
    assert.equal(counters.pending, 0);
    assert.ok(counters.failedAttempts >= 1, 'it kept trying until exitTimeout');
  });
});
