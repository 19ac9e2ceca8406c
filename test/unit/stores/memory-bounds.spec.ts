import { describe, expect, it } from '@jest/globals';
import { SessionTooLargeError } from '../../../lib/session.errors.js';
import { MemoryStore } from '../../../lib/stores/memory.store.js';
import { asRecord, changes, meta } from '../../support/fixtures.js';

const NOW = 1_000_000;
const id = (i: number) => `id-${String(i).padStart(6, '0')}`;

describe('MemoryStore bounds', () => {
  it('levels off under maxBytes: bytes held never pass it, the most recent sessions stay', () => {
    const maxBytes = 64 * 1024;
    const store = new MemoryStore({ max: 100_000, maxBytes }, () => NOW);
    let peak = 0;
    for (let i = 0; i < 5_000; i++) {
      store.applyNow(id(i), changes({ set: { payload: 'x'.repeat(200 + (i % 300)) } }), meta(NOW));
      peak = Math.max(peak, store.bytes);
    }
    expect(peak).toBeLessThanOrEqual(maxBytes);
    // Roughly 64 KiB / ~400 bytes: a few hundred sessions, far fewer than the 5 000 written.
    expect(store.size).toBeGreaterThan(100);
    expect(store.size).toBeLessThan(400);
    expect(asRecord(store.getNow(id(4_999)))?.data.payload).toBe('x'.repeat(200 + (4_999 % 300)));
    expect(store.getNow(id(0))).toBeUndefined();
  });

  it('counts bytes of UTF-8, not string length', () => {
    const store = new MemoryStore({ max: 10, maxBytes: 1_000_000 }, () => NOW);
    store.applyNow('a', changes({ set: { v: 'é'.repeat(1000) } }), meta(NOW));
    const one = store.bytes;
    store.applyNow('b', changes({ set: { v: 'x'.repeat(1000) } }), meta(NOW));
    expect(one - (store.bytes - one)).toBe(1000);
  });

  it('levels off under max: the count never passes it', () => {
    const store = new MemoryStore({ max: 100, maxBytes: 1 << 30 }, () => NOW);
    for (let i = 0; i < 1_000; i++) store.applyNow(id(i), changes({ set: { i } }), meta(NOW));
    expect(store.size).toBe(100);
  });

  it('refuses, keeping the record as it was, a session bigger than maxBytes on its own', () => {
    const store = new MemoryStore({ max: 10, maxBytes: 10_000 }, () => NOW);
    store.applyNow('a', changes({ set: { small: 1 } }), meta(NOW));
    expect(() => store.applyNow('a', changes({ set: { big: 'x'.repeat(20_000) } }), meta(NOW))).toThrow(
      SessionTooLargeError,
    );
    expect(asRecord(store.getNow('a'))?.data).toEqual({ small: 1 });
  });

  it('refuses past maxSize in UTF-8 bytes, keeping the record as it was', () => {
    const store = new MemoryStore({ max: 10, maxSize: 1_000 }, () => NOW);
    store.applyNow('a', changes({ set: { small: 1 } }), meta(NOW));
    // 600 characters, 1 200 bytes.
    expect(() => store.applyNow('a', changes({ set: { v: 'é'.repeat(600) } }), meta(NOW))).toThrow(
      /SESSION_TOO_LARGE: the session would be \d+ bytes, over the 1000-byte limit/,
    );
    expect(asRecord(store.getNow('a'))?.data).toEqual({ small: 1 });
  });

  it('a tombstone pushed out by the bounds never lets the retired id be written again', () => {
    const store = new MemoryStore({ max: 3 }, () => NOW);
    store.applyNow('old', changes({ set: { userId: 1 } }), meta(NOW));
    expect(store.retireNow('old', NOW + 60_000)?.data).toEqual({ userId: 1 });
    for (let i = 0; i < 5; i++) store.applyNow(id(i), changes({ set: { i } }), meta(NOW));
    expect(store.getNow('old')).toBeUndefined();
    expect(store.applyNow('old', changes({ set: { back: 1 } }), { ...meta(NOW), create: false })).toBe(false);
    expect(store.getNow('old')).toBeUndefined();
  });
});
