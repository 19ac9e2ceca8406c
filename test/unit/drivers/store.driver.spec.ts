import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { SessionState } from '../../../lib/core/session-state.js';
import { Keyring } from '../../../lib/crypto/keyring.js';
import type { DriverCommit } from '../../../lib/drivers/session-driver.js';
import { StoreDriver } from '../../../lib/drivers/store.driver.js';
import { SessionConflictError } from '../../../lib/session.errors.js';
import { resolveSessionOptions } from '../../../lib/session.options.js';
import { MemoryStore } from '../../../lib/stores/memory.store.js';
import { MapStore } from '../../support/stores.js';
import { asRecord } from '../../support/fixtures.js';

const options = resolveSessionOptions({ secret: 'a-test-secret-that-is-long-enough-0123456789' }, {});

function memoryDriver() {
  const store = new MemoryStore({ max: 10 });
  const driver = new StoreDriver(
    'memory',
    'sid',
    store,
    new Keyring(options.secrets),
    options.policies,
    new Logger('test'),
  );
  const now = Date.now();
  const load = (cookie?: string) => driver.load(cookie, now) as SessionState;
  const commit = (state: SessionState, consume = true) =>
    driver.commit({ state, consume, hadCookie: !state.isNew, secure: false, now });
  const cookieOf = (out: DriverCommit) => (out.cookie as { value: string }).value;
  /** A session holding `data`, and its cookie. */
  const started = (data: Record<string, unknown>) => {
    const state = load();
    for (const [key, value] of Object.entries(data)) state.set(key, value);
    return cookieOf(commit(state));
  };
  return { store, driver, load, commit, cookieOf, started };
}

describe('StoreDriver on a synchronous store (memory)', () => {
  it('loads and commits without a promise: the store holds the change when commit returns', () => {
    const { store, load, commit, cookieOf } = memoryDriver();
    const fresh = load();
    expect(fresh).toBeInstanceOf(SessionState);
    fresh.set('a', 1);
    const first = commit(fresh);
    expect(first.pending).toBeUndefined();
    const again = load(cookieOf(first));
    expect(again).toBeInstanceOf(SessionState);
    again.set('b', 2);
    expect(commit(again)).toEqual({});
    expect(asRecord(store.getNow(fresh.id))?.data).toEqual({ a: 1, b: 2 });
  });

  it('writes nothing and decides no cookie for an untouched new session', () => {
    const { store, load, commit } = memoryDriver();
    expect(commit(load())).toEqual({});
    expect(store.size).toBe(0);
  });

  it('regenerate() carries the record as the store holds it at commit, not as it was loaded', () => {
    const { store, load, commit, cookieOf, started } = memoryDriver();
    const cookie = started({ a: 1 });
    const regenerating = load(cookie);
    const other = load(cookie);
    other.set('b', 2); // committed after `regenerating` loaded, before it commits
    expect(commit(other)).toEqual({});
    regenerating.set('c', 3);
    regenerating.regenerate();
    const out = commit(regenerating);
    expect(out.failure).toBeUndefined();
    expect(asRecord(store.getNow(regenerating.id))?.data).toEqual({ a: 1, b: 2, c: 3 });
    expect(load(cookieOf(out)).all()).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('refuses (409) a change set for a session retired under it, and keeps nothing of it', () => {
    const { store, load, commit, started } = memoryDriver();
    const cookie = started({ a: 1 });
    const late = load(cookie);
    const regenerating = load(cookie);
    regenerating.regenerate();
    commit(regenerating);
    late.set('lost', true);
    const out = commit(late);
    expect(out.failure).toBeInstanceOf(SessionConflictError);
    expect(out.cookie).toBeUndefined();
    expect(store.getNow(late.id)).toBe('retired');
    expect(asRecord(store.getNow(regenerating.id))?.data).toEqual({ a: 1 });
  });

  it('leaves the cookie alone for a request that brings a retired id, and refuses its changes', () => {
    const { load, commit, started } = memoryDriver();
    const cookie = started({ a: 1 });
    const destroying = load(cookie);
    destroying.destroy();
    expect(commit(destroying).cookie).toBe('clear');
    const reading = load(cookie);
    expect(reading.all()).toEqual({});
    expect(commit(reading)).toEqual({});
    const writing = load(cookie);
    writing.set('x', 1);
    expect(commit(writing).failure).toBeInstanceOf(SessionConflictError);
  });
});

describe('StoreDriver on an asynchronous store', () => {
  it('returns the store work as pending, and a conflict as its rejection', async () => {
    const store = new MapStore();
    const driver = new StoreDriver(
      'map',
      'sid',
      store,
      new Keyring(options.secrets),
      options.policies,
      new Logger('test'),
    );
    const now = Date.now();
    const fresh = (await driver.load(undefined, now)) as SessionState;
    fresh.set('a', 1);
    const first = driver.commit({ state: fresh, consume: true, hadCookie: false, secure: false, now });
    expect(first.pending).toBeInstanceOf(Promise);
    await first.pending;
    const cookie = (first.cookie as { value: string }).value;
    const late = (await driver.load(cookie, now)) as SessionState;
    const regenerating = (await driver.load(cookie, now)) as SessionState;
    regenerating.regenerate();
    await driver.commit({ state: regenerating, consume: true, hadCookie: true, secure: false, now }).pending;
    late.set('lost', true);
    const refused = driver.commit({ state: late, consume: true, hadCookie: true, secure: false, now });
    await expect(refused.pending).rejects.toBeInstanceOf(SessionConflictError);
    expect(await store.get(fresh.id)).toBe('retired');
  });
});
