// Sends usage events to meterr's `POST /api/usage/events` in the background: in batches (by count,
// bytes and time), retrying with exponential backoff and jitter, holding a bounded buffer while
// meterr is unreachable. The same rules as the Swift SDK's Reporter (Sources/MeterrSDK/Reporter.swift).
import { completeEvent, utf8Length, validateEvent } from './event.js';

const now = () => performance.now();

/** @typedef {{ id: string, json: string, bytes: number, queuedAt: number }} Pending */

/**
 * A first-in-first-out queue with O(1) removal at the front.
 */
class EventQueue {
  constructor() {
    /** @type {Pending[]} */
    this.items = [];
    this.head = 0;
  }

  get length() {
    return this.items.length - this.head;
  }

  get first() {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  push(item) {
    this.items.push(item);
  }

  shift() {
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    // Reclaim the consumed front once it is the larger half.
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts `items` back in front, in their order. */
  unshiftAll(items) {
    this.items = items.concat(this.items.slice(this.head));
    this.head = 0;
  }

  clear() {
    this.items = [];
    this.head = 0;
  }
}

/**
 * Wakes the one background loop: a batch filled, a first event arrived, a flush or close began.
 */
class WakeUp {
  constructor() {
    this.resolve = null;
    this.signalled = false;
  }

  signal() {
    if (this.resolve) this.resolve();
    else this.signalled = true;
  }

  /**
   * Waits for a signal, or until `deadline` (a `performance.now()` time) when there is one. The
   * timer keeps the process alive only with `keepAlive` (while closing).
   */
  wait(deadline, keepAlive = false) {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer = null;
      this.resolve = () => {
        if (timer) clearTimeout(timer);
        this.resolve = null;
        resolve();
      };
      if (deadline !== null && deadline !== undefined) {
        const wake = this.resolve;
        timer = setTimeout(wake, Math.max(0, deadline - now()));
        // A waiting reporter never keeps the process alive; flush() and close() do, while awaited.
        if (!keepAlive) timer.unref?.();
      }
    });
  }
}

/** The reporters that deliver on `beforeExit`. */
const exitReporters = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled || typeof process === 'undefined' || typeof process.on !== 'function') return;
  exitHookInstalled = true;
  process.on('beforeExit', () => {
    for (const reporter of exitReporters) {
      if (reporter.counters.pending > 0) reporter.close({ timeout: reporter.exitTimeout });
    }
  });
}

/**
 * Sends usage events to meterr in the background.
 *
 * `report(event)` only enqueues: it never waits, never throws and never fails the app's own call.
 * Batches go out when `maxBatchSize` events (100) or `maxBatchBytes` (512 KiB) are waiting, or when
 * the oldest has waited `flushInterval` (1 s). A batch that fails (meterr unreachable, 5xx, 408,
 * 429) is retried with exponential backoff (`initialBackoff` 200 ms doubling to `maxBackoff` 30 s,
 * a random half to whole of it); its event ids make the retry safe, since meterr stores each id
 * once. Another 4xx refuses the batch for good (`rejected`). While meterr is unreachable events wait
 * in a buffer of `bufferLimit` (10,000); past it the oldest are dropped and counted (`dropped`).
 * When the process is about to exit (`beforeExit`) the reporter closes, delivering what is buffered
 * within `exitTimeout` (5 s). Make one reporter per process and share it (each is kept for the exit
 * hook until closed).
 */
export class Reporter {
  /**
   * @param {object} options
   * @param {string} options.url meterr's base URL, e.g. `http://127.0.0.1:8787`
   * @param {string} options.key a meterr key with the `ingest` scope (`mk_…`)
   * @param {number} [options.maxBatchSize] most events in one request (100; meterr takes up to 1,000)
   * @param {number} [options.maxBatchBytes] most bytes of JSON in one request (512 KiB)
   * @param {number} [options.flushInterval] ms an event may wait for its batch to fill (1,000)
   * @param {number} [options.bufferLimit] most events held while meterr is slow or down (10,000)
   * @param {number} [options.initialBackoff] ms to wait after a first failed delivery (200)
   * @param {number} [options.maxBackoff] longest wait between attempts, ms (30,000)
   * @param {number} [options.requestTimeout] ms one delivery may take (10,000)
   * @param {boolean} [options.flushOnExit] close on `beforeExit`, delivering what is buffered (true)
   * @param {number} [options.exitTimeout] ms that close may take on `beforeExit` (5,000)
   * @param {typeof fetch} [options.fetch] the fetch used to reach meterr (global fetch)
   * @param {(failure: {status: number | null, message: string, events: number, retrying: boolean}) => void} [options.onError]
   *   told of each failed or refused delivery (never required; errors in it are ignored)
   */
  constructor(options = {}) {
    const { url, key } = options;
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('Reporter needs meterr\'s url');
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('Reporter needs a meterr key');
    this.url = url.replace(/\/+$/, '');
    this.key = key;
    this.maxBatchSize = clamp(options.maxBatchSize ?? 100, 1, 1000);
    this.maxBatchBytes = Math.max(1, options.maxBatchBytes ?? 512 * 1024);
    this.flushInterval = Math.max(0, options.flushInterval ?? 1000);
    this.bufferLimit = Math.max(1, options.bufferLimit ?? 10_000);
    this.initialBackoff = Math.max(1, options.initialBackoff ?? 200);
    this.maxBackoff = Math.max(this.initialBackoff, options.maxBackoff ?? 30_000);
    this.requestTimeout = Math.max(1, options.requestTimeout ?? 10_000);
    this.exitTimeout = Math.max(0, options.exitTimeout ?? 5000);
    this.fetch = options.fetch ?? globalThis.fetch;
    this.onError = options.onError;

    this.queue = new EventQueue();
    /** @type {Pending[]} */
    this.inFlight = [];
    /** How many of the oldest in-flight events a full buffer gave up on: dropped if their
     * delivery fails, delivered after all if it succeeds. */
    this.inFlightDoomed = 0;
    this.retryNotBefore = null;
    this.flushRequested = false;
    this.stopDeadline = null;
    this.abortDelivery = null;
    this.stats = { sent: 0, retried: 0, dropped: 0, rejected: 0, failedAttempts: 0 };
    this.wakeUp = new WakeUp();
    /** Resolvers of flush() calls, run when the buffer empties. */
    this.drainWaiters = new Set();
    // The loop never throws (every delivery error is an outcome); the catch only keeps a bug quiet.
    this.loop = this.deliverUntilStopped().catch(() => {});

    if (options.flushOnExit ?? true) {
      exitReporters.add(this);
      installExitHook();
    }
  }

  /**
   * Queues an event for delivery and returns at once; never throws. An event without `id` gets a
   * time-sortable `evt_…` id, one without `ts` the time now. An invalid event is counted as
   * `rejected`; after `close()` began, events are counted as `dropped`.
   * @param {object} event a usage event (docs/api.md, "The usage event")
   * @returns {string | null} the event's id, or `null` when it was turned away
   */
  report(event) {
    try {
      if (this.stopDeadline !== null) {
        this.stats.dropped += 1;
        return null;
      }
      const complete = completeEvent(event ?? null);
      const problem = validateEvent(complete);
      if (problem) {
        this.stats.rejected += 1;
        this.tell({ status: null, message: `invalid event: ${problem}`, events: 1, retrying: false });
        return null;
      }
      const json = JSON.stringify(complete);
      this.queue.push({ id: complete.id, json, bytes: utf8Length(json), queuedAt: now() });
      while (this.pendingCount > this.bufferLimit) {
        if (this.inFlightDoomed < this.inFlight.length) {
          this.inFlightDoomed += 1;
        } else {
          this.queue.shift();
          this.stats.dropped += 1;
        }
      }
      if (this.queue.length === 1 || this.queue.length >= this.maxBatchSize) this.wakeUp.signal();
      return complete.id;
    } catch {
      this.stats.rejected += 1;
      return null;
    }
  }

  /**
   * What the reporter has done so far: `sent` (acknowledged by meterr), `retried` (put back after a
   * failed delivery), `dropped` (pushed out of a full buffer, reported after close, or left when
   * close's time ran out), `rejected` (invalid, or refused by meterr with a 4xx a retry cannot
   * mend), `pending` (buffered or in flight) and `failedAttempts` (deliveries that failed).
   * @returns {{sent: number, retried: number, dropped: number, rejected: number, pending: number, failedAttempts: number}}
   */
  get counters() {
    return { ...this.stats, pending: this.pendingCount };
  }

  /** Events buffered or in flight, not counting in-flight ones a full buffer gave up on. */
  get pendingCount() {
    return this.queue.length + this.inFlight.length - this.inFlightDoomed;
  }

  /**
   * Sends what is buffered now instead of waiting for the batch to fill, and waits until the buffer
   * is empty or `timeout` ms passed. While awaited it keeps the process alive.
   * @param {{timeout?: number}} [options] (default 10,000 ms)
   * @returns {Promise<boolean>} whether the buffer emptied (delivered, or refused) in time
   */
  flush({ timeout = 10_000 } = {}) {
    if (this.pendingCount === 0) return Promise.resolve(true);
    this.flushRequested = true;
    this.wakeUp.signal();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters.delete(done);
        resolve(this.pendingCount === 0);
      }, Math.max(0, timeout));
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.drainWaiters.add(done);
    });
  }

  /**
   * Delivers what is buffered, trying until `timeout` ms passed, then drops the rest (counted) and
   * stops. Later reports are dropped. Safe to call more than once. While awaited it keeps the
   * process alive.
   * @param {{timeout?: number}} [options] (default 10,000 ms)
   * @returns {Promise<void>}
   */
  async close({ timeout = 10_000 } = {}) {
    if (this.stopDeadline === null) {
      this.stopDeadline = now() + Math.max(0, timeout);
      const timer = setTimeout(() => {
        // Time is up: end the delivery in flight, so close keeps its word.
        this.abortDelivery?.abort();
        this.wakeUp.signal();
      }, Math.max(0, timeout));
      this.loop.finally(() => clearTimeout(timer));
    }
    this.wakeUp.signal();
    await this.loop;
    exitReporters.delete(this);
  }

  // The background loop.

  async deliverUntilStopped() {
    let failures = 0;
    for (;;) {
      const step = this.next(now());
      if (step.stop) {
        this.notifyIfDrained();
        return;
      }
      if (step.batch === undefined) {
        // While closing, the loop's own timers keep the process alive until it stops.
        await this.wakeUp.wait(step.until, this.stopDeadline !== null);
        continue;
      }
      const outcome = await this.deliver(step.batch);
      failures = outcome.kind === 'failed' ? failures + 1 : 0;
      this.settle(outcome, outcome.kind === 'failed' ? this.backoff(failures, outcome.retryAfter) : null);
      this.notifyIfDrained();
    }
  }

  /** What the loop does next: `{stop}`, `{batch}` to send, or `{until}` to wait (null: for a signal). */
  next(time) {
    const stopping = this.stopDeadline !== null;
    if (stopping && time >= this.stopDeadline) {
      this.stats.dropped += this.queue.length;
      this.queue.clear();
      return { stop: true };
    }
    const oldest = this.queue.first;
    if (oldest === undefined) {
      this.flushRequested = false;
      return stopping ? { stop: true } : { until: null };
    }
    if (this.retryNotBefore !== null && time < this.retryNotBefore) {
      return { until: stopping ? Math.min(this.stopDeadline, this.retryNotBefore) : this.retryNotBefore };
    }
    const due =
      stopping ||
      this.flushRequested ||
      this.queue.length >= this.maxBatchSize ||
      time >= oldest.queuedAt + this.flushInterval;
    if (!due) return { until: oldest.queuedAt + this.flushInterval };
    let bytes = 2;
    while (this.queue.length > 0 && this.inFlight.length < this.maxBatchSize) {
      const event = this.queue.first;
      if (this.inFlight.length > 0 && bytes + event.bytes + 1 > this.maxBatchBytes) break;
      bytes += event.bytes + 1;
      this.inFlight.push(this.queue.shift());
    }
    return { batch: this.inFlight };
  }

  /** Sends one batch; says `delivered`, `failed` (try again) or `rejected` (never). */
  async deliver(batch) {
    const controller = new AbortController();
    this.abortDelivery = controller;
    const timer = setTimeout(() => controller.abort(), this.requestTimeout);
    timer.unref?.();
    const body = '[' + batch.map((event) => event.json).join(',') + ']';
    try {
      const send = this.fetch; // called unbound, as fetch expects
      const response = await send(this.url + '/api/usage/events', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.key}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body,
        signal: controller.signal,
      });
      const text = await response.text().catch(() => '');
      const status = response.status;
      if (status >= 200 && status < 300) return { kind: 'delivered' };
      const retrying = status === 408 || status === 429 || status >= 500;
      this.tell({ status, message: errorMessage(text) ?? `HTTP ${status}`, events: batch.length, retrying });
      if (!retrying) return { kind: 'rejected' };
      return { kind: 'failed', retryAfter: retryAfterMs(response.headers.get('retry-after')) };
    } catch (error) {
      const message = controller.signal.aborted ? 'delivery timed out' : describe(error);
      this.tell({ status: null, message: `meterr unreachable: ${message}`, events: batch.length, retrying: true });
      return { kind: 'failed', retryAfter: null };
    } finally {
      clearTimeout(timer);
      this.abortDelivery = null;
    }
  }

  /** Records how a delivery ended. */
  settle(outcome, backoff) {
    switch (outcome.kind) {
      case 'delivered':
        this.stats.sent += this.inFlight.length;
        this.retryNotBefore = null;
        break;
      case 'rejected':
        this.stats.rejected += this.inFlight.length;
        this.retryNotBefore = null;
        break;
      default: {
        this.stats.failedAttempts += 1;
        this.stats.dropped += this.inFlightDoomed;
        const retry = this.inFlight.slice(this.inFlightDoomed);
        this.stats.retried += retry.length;
        this.queue.unshiftAll(retry);
        this.retryNotBefore = now() + backoff;
      }
    }
    this.inFlight = [];
    this.inFlightDoomed = 0;
  }

  /**
   * The wait before the next attempt: exponential in the failures in a row, capped, with jitter (a
   * random half to whole of it), so many reporters do not retry in step. A `Retry-After` from meterr
   * is honoured up to `maxBackoff`.
   */
  backoff(failures, retryAfter) {
    const exponential = this.initialBackoff * 2 ** Math.min(failures - 1, 30);
    const ceiling = Math.max(1, Math.min(this.maxBackoff, exponential));
    const jittered = ceiling / 2 + Math.random() * (ceiling / 2);
    return retryAfter ? Math.max(jittered, Math.min(retryAfter, this.maxBackoff)) : jittered;
  }

  notifyIfDrained() {
    if (this.pendingCount !== 0) return;
    const waiters = [...this.drainWaiters];
    this.drainWaiters.clear();
    for (const done of waiters) done();
  }

  tell(failure) {
    if (typeof this.onError !== 'function') return;
    try {
      this.onError(failure);
    } catch {
      // The app's handler must not stop delivery.
    }
  }
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, Math.floor(value)));
}

/** meterr's error message from `{"error": {"code", "message", "field"}}`. */
function errorMessage(text) {
  try {
    const error = JSON.parse(text)?.error;
    if (error && typeof error.message === 'string') {
      return [error.code, error.field ? `${error.field}: ${error.message}` : error.message].filter(Boolean).join(': ');
    }
  } catch {
    // not JSON
  }
  return text ? text.slice(0, 200) : null;
}

function retryAfterMs(header) {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

function describe(error) {
  const cause = error?.cause;
  const code = cause?.code ?? error?.code;
  return [error?.message ?? String(error), code].filter(Boolean).join(' ');
}
