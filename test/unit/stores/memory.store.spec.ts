import { describe, expect, it } from '@jest/globals';
import { MemoryStore } from '../../../lib/stores/memory.store.js';
import { asRecord, changes } from '../../support/fixtures.js';

const none = changes();
const change = changes;

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('MemoryStore', () => {
  it('keeps its timestamps as small numbers (creation after the store was made, activity after creation)', async () => {
    const c = clock(1_764_403_200_000);
    const store = new MemoryStore({ max: 10, maxBytes: 1 << 20 }, c.now);
    const created = c.now();
    const meta = { createdAt: created, lastActivity: created, expiresAt: created + 60_000, create: true };
    await store.apply('a', change({ set: { counter: 1 } }), meta);
    // '[0,0,{},{"counter":1}]' and the id: 22 + 1 bytes, not 47.
    expect(store.bytes).toBe(23);
    c.advance(5000);
    const later = { ...meta, lastActivity: c.now(), expiresAt: c.now() + 60_000, create: false };
    await store.apply('a', change({ set: { counter: 2 } }), later);
    expect(asRecord(await store.get('a'))).toMatchObject({
      data: { counter: 2 },
      createdAt: created,
      lastActivity: created + 5000,
    });
    // A session created before the store was made (a clock that went back) reads back as it was.
    const early = { createdAt: created - 86_400_000, lastActivity: created - 1, expiresAt: c.now() + 60_000 };
    await store.apply('b', change({ set: { counter: 1 } }), { ...early, create: true });
    expect(asRecord(await store.get('b'))).toMatchObject({
      createdAt: early.createdAt,
      lastActivity: created - 1,
    });
    expect(store.peekNow('b')).toEqual({ lastActivity: created - 1, hasFlash: false });
  });

  it('peeks at the last activity and whether there is flash without parsing the record', async () => {
    const c = clock(1_764_403_200_000);
    const store = new MemoryStore({ max: 10 }, c.now);
    const created = c.now();
    const meta = (create: boolean) => ({
      createdAt: created,
      lastActivity: c.now(),
      expiresAt: c.now() + 60_000,
      create,
    });
    const user = { id: 'u,1', signedInAt: created, label: '{},[' };
    await store.apply('a', change({ set: { 'a,b': '],{}' }, user }), meta(true));
    expect(store.peekNow('a')).toEqual({ lastActivity: created, hasFlash: false });
    c.advance(2500);
    await store.apply('a', change({ flash: { '{}': ',' }, policy: 'p,q' }), meta(false));
    expect(store.peekNow('a')).toEqual({ lastActivity: created + 2500, hasFlash: true });
    expect(asRecord(await store.get('a'))).toMatchObject({
      data: { 'a,b': '],{}' },
      flash: { '{}': ',' },
      user,
      policy: 'p,q',
      lastActivity: created + 2500,
    });
    expect(store.peekNow('b')).toBeUndefined();
    await store.retire('a', c.now() + 1000);
    expect(store.peekNow('a')).toBe('retired');
  });

  it('peeks right when the clock went back or is not whole milliseconds', async () => {
    const store = new MemoryStore({ max: 10 });
    const at = (created: number, lastActivity: number) => ({
      createdAt: created,
      lastActivity,
      expiresAt: Date.now() + 60_000,
      create: true,
    });
    await store.apply('back', change({ set: { n: 1 } }), at(1_764_403_200_000, 1_764_403_199_250));
    expect(store.peekNow('back')).toEqual({ lastActivity: 1_764_403_199_250, hasFlash: false });
    await store.apply('frac', change({ set: { n: 1 } }), at(1_764_403_200_000.5, 1_764_403_200_100.75));
    expect(store.peekNow('frac')).toEqual({ lastActivity: 1_764_403_200_100.75, hasFlash: false });
  });

  it('keeps the user beside the record, not in its JSON: read by reference, counted in its bytes', async () => {
    const c = clock(1_764_403_200_000);
    const store = new MemoryStore({ max: 10, maxBytes: 1 << 20, maxSize: 200 }, c.now);
    const t = c.now();
    const meta = (create: boolean) => ({ createdAt: t, lastActivity: t, expiresAt: t + 60_000, create });
    const user = { id: 'u1', signedInAt: t, label: 'laptop' };
    await store.apply('a', change({ set: { n: 1 }, user }), meta(true));
    const first = asRecord(await store.get('a'))?.user;
    expect(first).toEqual(user);
    expect(first).not.toBe(user); // a frozen copy: what the caller holds can change nothing here
    expect(Object.isFrozen(first)).toBe(true);
    await store.apply('a', change({ set: { n: 2 } }), meta(false));
    // Not parsed again by each read and write: the same object while the binding is the same.
    expect(asRecord(await store.get('a'))?.user).toBe(first);
    // '[0,0,{},{"n":2}]' (16) + the user's JSON + the id.
    expect(store.bytes).toBe(16 + JSON.stringify(user).length + 1);
    // The user counts against maxSize as it did inside the record.
    const big = { ...user, label: 'x'.repeat(200) };
    expect(() => store.applyNow('a', change({ user: big }), meta(false))).toThrow('over the 200-byte limit');
    await store.apply('a', change({ user: null }), meta(false));
    expect(asRecord(await store.get('a'))?.user).toBeUndefined();
    expect(store.bytes).toBe(16 + 1);
  });

  it('expires an entry once its TTL has passed on its clock, to the millisecond, without a timer', async () => {
    const c = clock();
    const store = new MemoryStore({ max: 10 }, c.now);
    await store.apply('a', none, {
      createdAt: c.now(),
      lastActivity: c.now(),
      expiresAt: c.now() + 1000,
      create: true,
    });
    c.advance(999);
    expect(asRecord(await store.get('a'))).toBeDefined();
    c.advance(2);
    expect(asRecord(await store.get('a'))).toBeUndefined();
  });

  it('is bounded: the least recently used session goes first', async () => {
    const c = clock();
    const store = new MemoryStore({ max: 2 }, c.now);
    const meta = { createdAt: c.now(), lastActivity: c.now(), expiresAt: c.now() + 1000, create: true };
    await store.apply('a', none, meta);
    await store.apply('b', none, meta);
    asRecord(await store.get('a'));
    await store.apply('c', none, meta);
    expect(store.size).toBe(2);
    expect(asRecord(await store.get('b'))).toBeUndefined();
    expect(asRecord(await store.get('a'))).toBeDefined();
  });

  it('starts no timer, however many sessions it holds, so nothing keeps the process alive', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const store = new MemoryStore({ max: 100 });
    for (let i = 0; i < 1000; i++) {
      await store.apply(`id-${i}`, none, {
        createdAt: Date.now(),
        lastActivity: Date.now(),
        expiresAt: Date.now() + 60_000,
        create: true,
      });
      asRecord(await store.get(`id-${i}`));
    }
    expect(store.size).toBe(100);
    expect(timers()).toBe(before);
  });
});
