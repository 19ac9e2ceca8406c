import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import fastifySession from '@fastify/session';
import session from 'express-session';
import { randomBytes } from 'node:crypto';
import { SessionConfigError, fromExpressSessionStore } from 'nest-session';
import { ExpressSessionStoreAdapter, RECORD_FIELD } from '../../../lib/stores/express-session.adapter.js';
import { isPrunable } from '../../../lib/stores/session-store.js';
import {
  IN_PROCESS_STORES,
  awaitingInstall,
  callback,
  expressSessionHarness,
  type MadeStore,
} from '../../support/express-session-stores.js';
import { asRecord, changes, meta, ONLY_DATE } from '../../support/fixtures.js';

const newId = () => randomBytes(32).toString('base64url');
const HOUR = 3_600_000;
const raw = (store: session.Store, id: string) =>
  callback<Record<string, any>>((cb) => store.get(id, cb as never));

/**
 * The adapter's store-level tests, on every in-process express-session store. The properties every
 * store owes (test/support/store-contract.ts) run through `expressSessionHarness`; these are the
 * adapter's own: the record the store keeps, its expiry, the whole-record race.
 */
describe.each(IN_PROCESS_STORES)('the express-session adapter over $name', (entry) => {
  if (awaitingInstall(entry.pkg)) {
    it.todo(`runs once ${entry.pkg} is a devDependency`);
    return;
  }
  let made: MadeStore;
  let h: Awaited<ReturnType<typeof expressSessionHarness>>;
  beforeEach(async () => {
    made = await entry.make();
    h = await expressSessionHarness(made);
  });
  afterEach(async () => {
    jest.useRealTimers();
    await h.cleanup();
  });

  it("writes an express-session record: the cookie's expires and maxAge for the store's own expiry", async () => {
    const id = newId();
    const m = meta(h.now(), HOUR);
    await h.store.apply(id, changes({ set: { a: 1, __proto__x: 2 }, flash: { f: 'x' } }), m);
    const stored = (await raw(made.store, id))!;
    expect(Object.keys(stored).sort()).toEqual(['cookie', RECORD_FIELD]);
    expect(stored.cookie).toMatchObject({ originalMaxAge: HOUR, maxAge: HOUR, path: '/' });
    const expires = new Date(stored.cookie.expires).getTime();
    expect(Math.abs(expires - (Date.now() + HOUR))).toBeLessThan(5_000);
    expect(JSON.parse(stored[RECORD_FIELD])).toEqual({
      v: 1,
      data: { a: 1, __proto__x: 2 },
      flash: { f: 'x' },
      createdAt: m.createdAt,
      lastActivity: m.lastActivity,
      expiresAt: m.expiresAt,
    });
    expect(asRecord(await h.store.get(id))).toEqual({
      data: { a: 1, __proto__x: 2 },
      flash: { f: 'x' },
      createdAt: m.createdAt,
      lastActivity: m.lastActivity,
    });
  });

  it('retires an id with a tombstone record that expires with it, and refuses writes through it', async () => {
    const id = newId();
    await h.store.apply(id, changes({ set: { a: 1 } }), meta(h.now(), HOUR));
    expect((await h.store.retire(id, h.now() + 60_000))?.data).toEqual({ a: 1 });
    const stored = (await raw(made.store, id))!;
    expect(JSON.parse(stored[RECORD_FIELD])).toEqual({ v: 1, retiredUntil: h.now() + 60_000 });
    expect(stored.cookie.maxAge).toBe(60_000);
    expect(await h.store.get(id)).toBe('retired');
    expect(await h.store.apply(id, changes({ set: { b: 2 } }), meta(h.now(), HOUR))).toBe(false);
    await h.expire();
    expect(await h.store.get(id)).toBe('retired');
  });

  it('reads what is not its own as nothing: an old express-session record, malformed JSON', async () => {
    const [old, bad] = [newId(), newId()];
    const cookie = { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) };
    await callback((cb) => made.store.set(old, { cookie, passport: { user: 1 } } as never, cb));
    await callback((cb) => made.store.set(bad, { cookie, [RECORD_FIELD]: '{not json' } as never, cb));
    for (const id of [old, bad]) {
      expect(await h.store.get(id)).toBeUndefined();
      expect(await h.store.apply(id, changes({ set: { a: 1 } }), { ...meta(h.now()), create: false })).toBe(
        false,
      );
    }
    expect((await raw(made.store, old))?.passport).toEqual({ user: 1 });
  });

  it('never calls touch(): a touch writes the record, so the idle timeout reads the new activity', async () => {
    const id = newId();
    const touch = typeof made.store.touch === 'function' ? jest.spyOn(made.store, 'touch') : undefined;
    const first = meta(h.now(), HOUR);
    await h.store.apply(id, changes({ set: { a: 1 } }), first);
    const later = { ...first, lastActivity: first.lastActivity + 90_000, create: false };
    expect(await h.store.apply(id, changes(), later)).toBe(true);
    expect(asRecord(await h.store.get(id))?.lastActivity).toBe(later.lastActivity);
    expect(touch?.mock.calls ?? []).toEqual([]);
  });

  it('keeps every key of 100 overlapping change sets in one process; two processes lose some', async () => {
    const id = newId();
    await h.store.apply(id, changes({ set: { warm: true } }), meta(h.now(), HOUR));
    const write = (store: ExpressSessionStoreAdapter, key: string) =>
      store.apply(id, changes({ set: { [key]: true } }), { ...meta(h.now(), HOUR), create: false });
    await Promise.all(Array.from({ length: 100 }, (_, i) => write(h.store, `k${i}`)));
    expect(Object.keys(asRecord(await h.store.get(id))!.data)).toHaveLength(101);
    // A second process: its own adapter over the same store. Whole records, read then written: the
    // overlapping writes of the two overwrite each other's keys, as express-session's would.
    const other = new ExpressSessionStoreAdapter(made.store, { now: h.now });
    await Promise.all(Array.from({ length: 20 }, (_, i) => write(i % 2 === 0 ? h.store : other, `p${i}`)));
    expect(Object.keys(asRecord(await h.store.get(id))!.data).length).toBeLessThan(121);
  });

  it(`${entry.lists ? 'prunes through all()' : 'has no prune() without all()'}, leaving what is not its own`, async () => {
    expect(isPrunable(h.store)).toBe(entry.lists);
    if (!entry.lists) return;
    const [live, old, retired, foreign] = [newId(), newId(), newId(), newId()];
    await h.store.apply(live, changes({ set: { a: 1 } }), meta(h.now(), HOUR));
    await h.store.apply(old, changes({ set: { a: 1 } }), meta(h.now(), 1_000));
    await h.store.apply(retired, changes(), meta(h.now(), HOUR));
    await h.store.retire(retired, h.now() + 1_000);
    const cookie = { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) };
    await callback((cb) => made.store.set(foreign, { cookie, passport: { user: 1 } } as never, cb));
    await h.expire(old, retired);
    expect(await h.store.prune!()).toBe(2);
    expect(await h.store.prune!()).toBe(0);
    expect(asRecord(await h.store.get(live))?.data).toEqual({ a: 1 });
    expect(await raw(made.store, old)).toBeFalsy();
    expect(await raw(made.store, foreign)).toBeTruthy();
  });
});

describe('the express-session adapter', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it("leaves expiry to the store as well: express-session's MemoryStore drops the record itself", async () => {
    jest.useFakeTimers({ doNotFake: [...ONLY_DATE] });
    const express = new session.MemoryStore();
    const store = new ExpressSessionStoreAdapter(express);
    const id = newId();
    await store.apply(id, changes({ set: { a: 1 } }), meta(Date.now(), 10_000));
    jest.setSystemTime(Date.now() + 10_001);
    expect(await raw(express, id)).toBeUndefined();
    expect(await callback<number>((cb) => express.length(cb))).toBe(0);
  });

  it("works over @fastify/session's store (get, set, destroy: no prune), which keeps objects by reference", async () => {
    const store = new ExpressSessionStoreAdapter(new fastifySession.MemoryStore(), { maxSize: 100 });
    const id = newId();
    await store.apply(id, changes({ set: { list: [1] } }), meta(Date.now(), HOUR));
    (asRecord(await store.get(id))!.data.list as number[]).push(2);
    expect(asRecord(await store.get(id))!.data).toEqual({ list: [1] });
    expect(isPrunable(store)).toBe(false);
    await expect(
      store.apply(id, changes({ set: { big: 'x'.repeat(100) } }), {
        ...meta(Date.now(), HOUR),
        create: false,
      }),
    ).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' });
  });

  it("answers a store's errors as errors (an outage), and ENOENT as no session", async () => {
    class Failing extends session.MemoryStore {
      error: (Error & { code?: string }) | undefined;
      override get(id: string, cb: (err: unknown, s?: session.SessionData | null) => void) {
        if (this.error) return void setImmediate(() => cb(this.error));
        super.get(id, cb);
      }
    }
    const express = new Failing();
    const store = new ExpressSessionStoreAdapter(express);
    express.error = new Error('connect ECONNREFUSED 127.0.0.1:27017');
    await expect(store.get(newId())).rejects.toThrow('ECONNREFUSED');
    await expect(store.apply(newId(), changes({ set: { a: 1 } }), meta(Date.now()))).rejects.toThrow(
      'ECONNREFUSED',
    );
    express.error = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    expect(await store.get(newId())).toBeUndefined();
  });

  it('fromExpressSessionStore() checks the store at once and builds the adapter from the options', () => {
    expect(() => fromExpressSessionStore({ get() {} } as never)).toThrow(SessionConfigError);
    expect(() => fromExpressSessionStore({} as never)).toThrow(/SESSION_STORE_INVALID: .*get.*set.*destroy/);
    const factory = fromExpressSessionStore(new session.MemoryStore());
    const store = factory({ maxSize: 10, clock: () => 0 });
    expect(store).toBeInstanceOf(ExpressSessionStoreAdapter);
    return expect(
      store.apply(newId(), changes({ set: { big: 'x'.repeat(10) } }), meta(0)),
    ).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' });
  });
});
