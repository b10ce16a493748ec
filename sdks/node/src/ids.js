// Event ids that sort by time, as meterr's own: `evt_`, the Unix time in milliseconds as eight
// base-62 digits, then 14 random base-62 characters (22 characters after the prefix).
import { webcrypto } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const cryptoSource = globalThis.crypto ?? webcrypto;

/**
 * `length` random base-62 characters from the system's secure generator (bytes of 248 and above
 * are skipped, so every character is equally likely).
 * @param {number} length
 * @returns {string}
 */
export function randomBase62(length) {
  let out = '';
  while (out.length < length) {
    const bytes = cryptoSource.getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * A new usage event id that sorts by creation time: `evt_` + the time in milliseconds as eight
 * base-62 digits (in order until the year 8900) + 14 random characters. Ids made later sort after
 * ids made earlier, so they land at the end of meterr's ledger index.
 * @param {number} [now] the time in Unix milliseconds (default: now)
 * @returns {string}
 */
export function newEventId(now = Date.now()) {
  let time = Math.max(0, Math.floor(now));
  const digits = new Array(8);
  for (let index = 7; index >= 0; index--) {
    digits[index] = ALPHABET[time % 62];
    time = Math.floor(time / 62);
  }
  return 'evt_' + digits.join('') + randomBase62(14);
}
