// Small local HTTP servers the tests drive step by step: a stand-in for meterr's ingest endpoint
// and a stand-in provider that streams a fixture event by event and can hold a stream open.
import http from 'node:http';

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

function readBody(request) {
  return new Promise((resolve) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * A stand-in for `POST /api/usage/events`. Each request waits in `requests` until the test
 * answers it (`await ingest.next()` → `{events, answer(status, body)}`), unless `auto(request)`
 * gives its status.
 */
export async function startIngest({ auto = null } = {}) {
  const received = [];
  const waiting = [];
  const server = http.createServer(async (request, response) => {
    const body = await readBody(request);
    const entry = {
      method: request.method,
      path: request.url,
      headers: request.headers,
      events: JSON.parse(body.toString('utf8') || '[]'),
      answer(status, answer = status < 300 ? { duplicates: 0, inserted: 0, received: 0 } : { error: { code: 'x', message: 'refused', field: null } }) {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer));
      },
    };
    received.push(entry);
    const status = ingest.auto?.(entry);
    if (status) entry.answer(status);
    else if (waiting.length > 0) waiting.shift()(entry);
    else ingest.queue.push(entry);
  });
  const port = await listen(server);
  const ingest = {
    url: `http://127.0.0.1:${port}`,
    received,
    queue: [],
    auto,
    /** The next request that waits for an answer. */
    next() {
      if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
      return new Promise((resolve) => waiting.push(resolve));
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(resolve));
    },
  };
  return ingest;
}

/**
 * A stand-in provider. `handle(request, body)` returns what to answer:
 * `{status, headers, events: [Uint8Array…], hold: Promise}` — the events are written one by one
 * (each flushed as its own chunk); with `hold`, the answer stays open after them until it settles.
 * Every request is kept in `requests` with its body's bytes.
 */
export async function startUpstream(handle) {
  const requests = [];
  const server = http.createServer(async (request, response) => {
    const body = await readBody(request);
    requests.push({ method: request.method, path: request.url, headers: request.headers, body });
    const answer = await upstream.handle(request, body);
    response.writeHead(answer.status ?? 200, answer.headers ?? {});
    for (const part of answer.events ?? []) {
      response.write(part);
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (answer.hold) await answer.hold;
    response.end();
  });
  const port = await listen(server);
  const upstream = {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle,
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(resolve));
    },
  };
  return upstream;
}

/** A fixture's SSE events, each with its blank line, as separate byte arrays. */
export function sseEvents(bytes) {
  const text = new TextDecoder().decode(bytes);
  return text.split(/(?<=\n\n)/).map((event) => new TextEncoder().encode(event));
}
