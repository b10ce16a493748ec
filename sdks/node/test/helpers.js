// Test helpers: free ports, a real `meterr serve`, the repository's fake provider, requests shaped
// exactly as the official OpenAI and Anthropic JS SDKs send them, and readers that consume answers
// the way those SDKs do.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..');
export const FIXTURES = path.join(REPO, 'Tests', 'MeterrProvidersTests', 'Fixtures');
export const FAKE_PROVIDER = path.join(REPO, 'scripts', 'sdk-check', 'fake_provider.py');
export const METERR_BINARY = process.env.METERR_BINARY ?? path.join(REPO, '.build', 'debug', 'meterr');
export const ADMIN_KEY = 'mk_nodesdktestnodesdktestnodesdk01';

/** A fixture's bytes. */
export function fixture(name) {
  return new Uint8Array(readFileSync(path.join(FIXTURES, name)));
}

export const text = (bytes) => new TextDecoder().decode(bytes);

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits until `check()` is truthy (polling), or fails after `timeout` ms. */
export async function waitFor(check, { timeout = 20_000, interval = 25, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child, name) {
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    get stderr() {
      return stderr;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
    name,
  };
}

/** Starts the repository's fake provider (answers every provider's paths with the recorded fixtures). */
export async function startFakeProvider() {
  const port = await freePort();
  const process_ = track(spawn('python3', [FAKE_PROVIDER, String(port)], { stdio: ['ignore', 'ignore', 'pipe'] }), 'fake provider');
  await waitFor(() => canConnect(port), { what: 'the fake provider' });
  return { url: `http://127.0.0.1:${port}`, port, stop: () => process_.stop() };
}

/**
 * Starts `meterr serve` on `port` (a free one by default) with a fresh data directory and the
 * admin key, its providers pointed at `upstream`; waits for `GET /healthz`.
 */
export async function startMeterr({ port, upstream } = {}) {
  port ??= await freePort();
  const data = mkdtempSync(path.join(tmpdir(), 'meterr-node-sdk-'));
  const env = { ...process.env, METERR_ADMIN_KEY: ADMIN_KEY, METERR_LOG_LEVEL: 'warning' };
  if (upstream) {
    for (const provider of ['OPENAI', 'AZURE', 'ANTHROPIC', 'GEMINI', 'MISTRAL', 'COHERE']) {
      env[`METERR_${provider}_BASE_URL`] = upstream;
      env[`${provider}_API_KEY`] = `real-${provider}-key`;
    }
    env.AZURE_OPENAI_API_KEY = 'real-AZURE-key';
  }
  const server = track(
    spawn(METERR_BINARY, ['serve', '--port', String(port), '--data', data], { env, stdio: ['ignore', 'ignore', 'pipe'] }),
    'meterr',
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (server.child.exitCode !== null) throw new Error(`meterr exited: ${server.stderr}`);
      return fetch(`${url}/healthz`).then((response) => response.ok, () => false);
    },
    { what: 'meterr /healthz' },
  );
  return {
    url,
    port,
    async stop() {
      await server.stop();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** The events meterr stored with tag `key=value`, newest first. */
export async function storedEvents(meterrURL, tag, { key = ADMIN_KEY } = {}) {
  const query = new URLSearchParams({ tag, limit: '1000' });
  const response = await fetch(`${meterrURL}/api/usage/events?${query}`, { headers: { authorization: `Bearer ${key}` } });
  if (!response.ok) throw new Error(`GET /api/usage/events: ${response.status} ${await response.text()}`);
  return (await response.json()).events;
}

/** Waits until meterr holds `count` events with the tag, and returns them. */
export function waitForStored(meterrURL, tag, count = 1) {
  return waitFor(
    async () => {
      const events = await storedEvents(meterrURL, tag);
      return events.length >= count ? events : null;
    },
    { what: `${count} event(s) tagged ${tag}` },
  );
}

const stainless = (userAgent, version) => ({
  'user-agent': userAgent,
  'x-stainless-lang': 'js',
  'x-stainless-package-version': version,
  'x-stainless-os': 'Linux',
  'x-stainless-arch': 'x64',
  'x-stainless-runtime': 'node',
  'x-stainless-runtime-version': process.version,
  'x-stainless-retry-count': '0',
  'x-stainless-timeout': '600',
});

/**
 * A request as the official `openai` JS SDK (v5) makes it and hands to its `fetch`: the URL
 * string, `{signal, method, headers: Headers, body: JSON string}`; `helper: true` adds the header
 * `client.chat.completions.stream()` sends.
 */
export function openAIRequest({ baseURL, apiKey, path: apiPath, body, headers = {}, helper = false }) {
  const controller = new AbortController();
  const all = new Headers({
    accept: 'application/json',
    ...stainless('OpenAI/JS 5.23.2', '5.23.2'),
    ...(helper ? { 'x-stainless-helper-method': 'stream' } : {}),
    authorization: `Bearer ${apiKey}`,
    'content-type': 'application/json',
    ...headers,
  });
  const init = { signal: controller.signal, method: 'POST', headers: all, body: JSON.stringify(body) };
  return { url: baseURL.replace(/\/$/, '') + apiPath, init, controller };
}

/** A request as the official `@anthropic-ai/sdk` JS SDK makes it (`messages.create`, or `.stream()` with `helper`). */
export function anthropicRequest({ baseURL, apiKey, body, headers = {}, helper = false }) {
  const controller = new AbortController();
  const all = new Headers({
    accept: 'application/json',
    'anthropic-version': '2023-06-01',
    ...stainless('Anthropic/JS 0.65.0', '0.65.0'),
    ...(helper ? { 'x-stainless-helper-method': 'stream' } : {}),
    'x-api-key': apiKey,
    'content-type': 'application/json',
    ...headers,
  });
  const init = { signal: controller.signal, method: 'POST', headers: all, body: JSON.stringify(body) };
  return { url: baseURL.replace(/\/$/, '') + '/v1/messages', init, controller };
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Reads a streamed answer the way the SDKs' `Stream.fromSSEResponse` does: `for await` over
 * `response.body`, lines decoded into events, `[DONE]` ends the items but the body is read to its
 * end; leaving early (`stopAfter(items, event)` returns true) breaks out of the loop, which cancels
 * the body, and before `[DONE]` aborts the request's controller, as the SDKs do on `break`.
 * @returns {Promise<{bytes: Uint8Array, events: {event: string | null, data: string}[], items: object[]}>}
 */
export async function consumeSSE(response, controller, { stopAfter = () => false } = {}) {
  const chunks = [];
  const events = [];
  const items = [];
  const decoder = new TextDecoder();
  let buffer = '';
  let event = null;
  let data = [];
  let done = false;
  let left = false;
  try {
    outer: for await (const chunk of response.body) {
      chunks.push(chunk);
      buffer += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (event === null && data.length === 0) continue;
          const sse = { event, data: data.join('\n') };
          event = null;
          data = [];
          events.push(sse);
          if (done) continue;
          if (sse.data.startsWith('[DONE]')) {
            done = true;
            if (stopAfter(items, sse)) break outer; // an app that stops at [DONE], before the body ends
            continue;
          }
          items.push(JSON.parse(sse.data));
          if (stopAfter(items, sse)) {
            left = true;
            break outer;
          }
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
    if (!left) done = true;
  } finally {
    if (!done) controller.abort();
  }
  return { bytes: concat(chunks), events, items };
}

/** Reads a whole answer's bytes (what `response.json()` parses). */
export async function consumeBytes(response) {
  return new Uint8Array(await response.arrayBuffer());
}

/** A reporter stand-in that keeps the events meteredFetch reports. */
export function captureReporter() {
  const events = [];
  const waiters = [];
  return {
    events,
    report(event) {
      events.push(event);
      for (const waiter of waiters.splice(0)) waiter();
      return event.id;
    },
    /** Resolves when `count` events were reported. */
    async next(count = 1) {
      while (events.length < count) await new Promise((resolve) => waiters.push(resolve));
      return events[count - 1];
    },
  };
}
