import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { SessionTooLargeError, applyChanges, type SessionChanges, type SessionStore } from 'nest-session';
import {
  emptyRecord,
  isClosable,
  isPrunable,
  isSynchronous,
  isUserIndexed,
} from '../../lib/stores/session-store.js';
import { asRecord, changes, meta } from './fixtures.js';

/** How long a record the contract means to expire lives: `expire()` ends it without waiting. */
export const SHORT_TTL = 1_000;
/** How long every other record and tombstone lives: longer than any test. */
export const LONG_TTL = 3_600_000;
/** The maxSize every store under the contract is made with, in bytes. */
export const CONTRACT_MAX_SIZE = 4096;

/** The optional powers of session-store.ts, each with its run-time guard. */
export type StorePower = 'prune' | 'close' | 'synchronous' | 'userIndex';
const GUARDS: Record<StorePower, (store: SessionStore) => boolean> = {
  prune: isPrunable,
  close: isClosable,
  synchronous: isSynchronous,
  userIndex: isUserIndexed,
};

/**
 * A property a store is known to break: a bug to fix in the store, or what its storage cannot give
 * (the express-session adapter's whole records across processes). Its test is then expected to fail
 * (it.failing), and turns red once the store keeps the property, to be taken off the list.
 */
export type ContractGap =
  /** apply() with meta.create true over a live tombstone writes a record instead of resolving false. */
  | 'create-over-tombstone'
  /**
   * Change sets from two processes on one id overwrite each other's keys (a store that writes whole
   * records: within one process it may still serialize them).
   */
  | 'cross-process-change-sets'
  /**
   * A change set from another process that overlaps a retire() can overwrite the tombstone, or be
   * acknowledged and lost with the record retire() handed over.
   */
  | 'cross-process-retirement';

/** One store made for one test of the contract, with what the contract needs around it. */
export interface StoreHarness {
  /** The store under test, on storage of its own, empty. */
  store: SessionStore;
  /** The maxSize it was made with (CONTRACT_MAX_SIZE). */
  maxSize: number;
  /** The store's clock, ms since the epoch: the timestamps the contract writes are read from it. */
  now(): number;
  /**
   * Makes the records and tombstones under `ids` expire now, without waiting. The contract writes
   * those to live SHORT_TTL and everything else LONG_TTL, so a store with an injected clock may
   * simply move it on past SHORT_TTL; the others move those ids' expiry into the past where they
   * keep it (a row's expires_at, a Redis key's PEXPIRE, a Map entry).
   */
  expire(...ids: string[]): Promise<void>;
  /** The optional powers the store is documented to have: the guards must find exactly these. */
  powers: StorePower[];
  /** Releases what the store holds (a test may have closed it already) and removes what it wrote. */
  cleanup(): Promise<void>;
  /**
   * The same storage through a store of its own, as another process has it (released by cleanup()),
   * for a store whose storage processes share; the contract then runs across the two.
   */
  another?(): SessionStore;
}

/** A session id as the drivers make them: 32 random bytes, base64url (every store takes it). */
export const newId = () => randomBytes(32).toString('base64url');

/**
 * The property change sets exist for: `count` requests on one id each load the record and then apply
 * a change set of their own key, all under way at once. Resolves to how many keys the record keeps
 * (a store that applies change sets atomically keeps all count + 1).
 */
export async function overlappingChangeSets(
  store: SessionStore,
  now: () => number,
  count = 100,
  other: SessionStore = store,
): Promise<{ kept: number; expected: number; applied: boolean[] }> {
  const id = newId();
  await store.apply(id, changes({ set: { warm: true } }), meta(now(), LONG_TTL));
  const applied = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      // With another process's store, every other request is that process's.
      const by = i % 2 === 0 ? store : other;
      await by.get(id);
      return by.apply(id, changes({ set: { [`k${i}`]: i } }), {
        ...meta(now(), LONG_TTL),
        create: false,
      });
    }),
  );
  const record = asRecord(await store.get(id));
  return { kept: Object.keys(record?.data ?? {}).length, expected: count + 1, applied };
}

/**
 * What every SessionStore owes the drivers (session-store.ts, DESIGN.md "The store contract"), at
 * the store's level: no Nest app, no HTTP. Each test gets a store of its own from `makeStore`.
 */
export function storeContract(
  name: string,
  makeStore: () => Promise<StoreHarness>,
  knownGaps: readonly ContractGap[] = [],
): void {
  /** `it`, or `it.failing` (so titled) for a property the store is known to break. */
  const unless =
    (gap: ContractGap) =>
    (title: string, test: () => Promise<void>): void =>
      knownGaps.includes(gap) ? it.failing(`${title} [known gap: ${gap}, fails]`, test) : it(title, test);

  describe(`store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: SessionStore;
    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(() => h.cleanup());

    /** Timestamps of a write now, for a record that lives `ttl`; `create` as the driver would say. */
    const at = (ttl = LONG_TTL, create = true) => ({ ...meta(h.now(), ttl), create });

    describe('reading and creating', () => {
      it('answers undefined for an id it holds nothing for', async () => {
        expect(await store.get(newId())).toBeUndefined();
      });

      it('creates a record when meta.create is true, with the timestamps it was given', async () => {
        const id = newId();
        const m = at();
        expect(await store.apply(id, changes({ set: { a: 1 }, flash: { f: 'x' } }), m)).toBe(true);
        expect(await store.get(id)).toEqual({
          data: { a: 1 },
          flash: { f: 'x' },
          createdAt: m.createdAt,
          lastActivity: m.lastActivity,
        });
      });

      it('never creates a record for an id loaded as existing: create false on a missing id resolves false', async () => {
        const id = newId();
        expect(await store.apply(id, changes({ set: { a: 1 } }), at(LONG_TTL, false))).toBe(false);
        expect(await store.get(id)).toBeUndefined();
        expect(await store.apply(id, changes(), at(LONG_TTL, false))).toBe(false);
        expect(await store.get(id)).toBeUndefined();
      });

      it('updates a live record with create false, keeping createdAt and taking the new lastActivity', async () => {
        const id = newId();
        const first = at();
        await store.apply(id, changes({ set: { a: 1 } }), first);
        const later = {
          createdAt: first.createdAt + 5000,
          lastActivity: first.lastActivity + 5000,
          expiresAt: first.lastActivity + 5000 + LONG_TTL,
          create: false,
        };
        expect(await store.apply(id, changes({ set: { b: 2 } }), later)).toBe(true);
        expect(await store.get(id)).toEqual({
          data: { a: 1, b: 2 },
          flash: {},
          createdAt: first.createdAt,
          lastActivity: later.lastActivity,
        });
      });

      it("returns records that are the caller's own: changing one changes nothing stored", async () => {
        const id = newId();
        await store.apply(id, changes({ set: { y: { deep: 1 }, list: [1] }, flash: { f: { n: 1 } } }), at());
        const first = asRecord(await store.get(id))!;
        (first.data.y as { deep: number }).deep = 99;
        (first.data.list as number[]).push(2);
        (first.flash.f as { n: number }).n = 2;
        first.data.added = true;
        expect(asRecord(await store.get(id))).toMatchObject({
          data: { y: { deep: 1 }, list: [1] },
          flash: { f: { n: 1 } },
        });
        expect(asRecord(await store.get(id))?.data).not.toHaveProperty('added');
      });
    });

    describe('change sets', () => {
      it('applies one in order: clear, delete, set; clear flash, drop cleared flash, add flash', async () => {
        const id = newId();
        const m = at();
        const steps: [Partial<SessionChanges>, { data: object; flash: object }][] = [
          [
            {
              set: { a: 1, b: 2, '': 'empty key', 'ü 😀': 'ünïcode', __proto__x: 3 },
              flash: { f: 'x', g: 0, h: true },
            },
            {
              data: { a: 1, b: 2, '': 'empty key', 'ü 😀': 'ünïcode', __proto__x: 3 },
              flash: { f: 'x', g: 0, h: true },
            },
          ],
          // Delete before set: a key deleted and set in one change set keeps the new value.
          [
            {
              deleted: ['a', 'missing'],
              set: { a: 'again', c: [1, { d: null }] },
              flashCleared: { f: '"x"', g: '1' },
            },
            {
              data: {
                a: 'again',
                b: 2,
                c: [1, { d: null }],
                '': 'empty key',
                'ü 😀': 'ünïcode',
                __proto__x: 3,
              },
              flash: { g: 0, h: true },
            },
          ],
          // Drop cleared before add: a consumed flash flashed again holds the new value.
          [
            { flashCleared: { g: '0', h: 'true' }, flash: { h: 'again', j: false } },
            {
              data: {
                a: 'again',
                b: 2,
                c: [1, { d: null }],
                '': 'empty key',
                'ü 😀': 'ünïcode',
                __proto__x: 3,
              },
              flash: { h: 'again', j: false },
            },
          ],
          // Clear flash before add.
          [
            { clearFlash: true, flash: { i: '' } },
            { data: expect.objectContaining({ b: 2 }), flash: { i: '' } },
          ],
          // Clear data before delete and set.
          [
            { clearData: true, set: { z: null }, deleted: ['b'] },
            { data: { z: null }, flash: { i: '' } },
          ],
          [
            { clearData: true, clearFlash: true, set: { y: 'only' } },
            { data: { y: 'only' }, flash: {} },
          ],
        ];
        let model = emptyRecord(m);
        for (const [step, expected] of steps) {
          expect(await store.apply(id, changes(step), m)).toBe(true);
          model = applyChanges(structuredClone(model), changes(step), m);
          const record = asRecord(await store.get(id));
          expect({ data: record?.data, flash: record?.flash }).toEqual(expected);
          expect({ data: record?.data, flash: record?.flash }).toEqual({
            data: model.data,
            flash: model.flash,
          });
        }
      });

      it('drops a consumed flash only while the record still holds the value the request saw', async () => {
        const id = newId();
        await store.apply(id, changes({ flash: { msg: 'one', other: { n: 1 }, kept: 'k' } }), at());
        const seen = asRecord(await store.get(id))!.flash;
        // Another request flashes a new message meanwhile.
        await store.apply(id, changes({ flash: { msg: 'two' } }), at(LONG_TTL, false));
        const consumed = { msg: JSON.stringify(seen.msg), other: JSON.stringify(seen.other) };
        await store.apply(id, changes({ flashCleared: consumed }), at(LONG_TTL, false));
        expect(asRecord(await store.get(id))!.flash).toEqual({ msg: 'two', kept: 'k' });
        await store.apply(id, changes({ flashCleared: { msg: '"two"', gone: '"x"' } }), at(LONG_TTL, false));
        expect(asRecord(await store.get(id))!.flash).toEqual({ kept: 'k' });
      });

      it('keeps every key when 100 change sets on one id overlap', async () => {
        const { kept, expected, applied } = await overlappingChangeSets(store, h.now);
        expect(applied.every(Boolean)).toBe(true);
        expect(kept).toBe(expected);
      });

      it('creates a missing record once when 100 first writes race, keeping every key', async () => {
        const id = newId();
        const applied = await Promise.all(
          Array.from({ length: 100 }, (_, i) => store.apply(id, changes({ set: { [`k${i}`]: i } }), at())),
        );
        expect(applied.every(Boolean)).toBe(true);
        expect(Object.keys(asRecord(await store.get(id))!.data)).toHaveLength(100);
      });

      it("keeps '__proto__', 'constructor' and friends as ordinary keys", async () => {
        const id = newId();
        const set = JSON.parse(
          '{"__proto__": {"polluted": true}, "constructor": 1, "toString": "s", "hasOwnProperty": 2}',
        );
        const flash = JSON.parse('{"__proto__": {"polluted": true}, "valueOf": 3}');
        await store.apply(id, changes({ set, flash }), at());
        const record = asRecord(await store.get(id))!;
        expect(Object.keys(record.data).sort()).toEqual([
          '__proto__',
          'constructor',
          'hasOwnProperty',
          'toString',
        ]);
        expect(Object.getOwnPropertyDescriptor(record.data, '__proto__')?.value).toEqual({ polluted: true });
        expect(Object.getOwnPropertyDescriptor(record.data, 'constructor')?.value).toBe(1);
        expect((record.data as { polluted?: unknown }).polluted).toBeUndefined();
        expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
        expect(Object.keys(record.flash).sort()).toEqual(['__proto__', 'valueOf']);
        // Deleted and consumed by key, as any other.
        const deleted = ['__proto__', 'constructor'];
        const flashCleared = JSON.parse('{"__proto__": "{\\"polluted\\":true}"}');
        await store.apply(id, changes({ deleted, flashCleared }), at(LONG_TTL, false));
        const after = asRecord(await store.get(id))!;
        expect(after.data).toEqual({ toString: 's', hasOwnProperty: 2 });
        expect(after.flash).toEqual({ valueOf: 3 });
        expect(Object.keys(after.data).sort()).toEqual(['hasOwnProperty', 'toString']);
      });
    });

    describe('across processes (a store whose storage processes share; else within one)', () => {
      /** The same storage through another process's store, or the store itself for one of one process. */
      const another = () => h.another?.() ?? store;

      unless('cross-process-change-sets')(
        'keeps every key when 100 change sets from two processes overlap on one id',
        async () => {
          const other = another();
          const { kept, expected, applied } = await overlappingChangeSets(store, h.now, 100, other);
          expect(applied.every(Boolean)).toBe(true);
          expect(kept).toBe(expected);
        },
      );

      unless('cross-process-retirement')(
        "never writes through a retire() of another process's, nor loses a change it acknowledged",
        async () => {
          const other = another();
          const ids = Array.from({ length: 20 }, () => newId());
          for (const id of ids) await store.apply(id, changes({ set: { a: 1 } }), at());
          const outcomes = await Promise.all(
            ids.map(async (id) => {
              await other.get(id);
              const [handed, applied] = await Promise.all([
                store.retire(id, h.now() + LONG_TTL),
                other.apply(id, changes({ set: { b: 2 } }), at(LONG_TTL, false)),
              ]);
              return { after: await store.get(id), handed, applied };
            }),
          );
          for (const { after, handed, applied } of outcomes) {
            expect(after).toBe('retired');
            // Before the retire: handed over with it; after: refused.
            if (applied) expect(handed?.data).toEqual({ a: 1, b: 2 });
          }
        },
      );
    });

    describe('expiry', () => {
      it('never returns an expired record; a write with create false to it resolves false; a new one starts empty', async () => {
        const id = newId();
        const live = newId();
        await store.apply(id, changes({ set: { stale: true } }), at(SHORT_TTL));
        await store.apply(live, changes({ set: { live: true } }), at());
        expect(asRecord(await store.get(id))?.data).toEqual({ stale: true });
        await h.expire(id);
        expect(await store.get(id)).toBeUndefined();
        expect(asRecord(await store.get(live))?.data).toEqual({ live: true });
        expect(await store.apply(id, changes({ set: { a: 1 } }), at(LONG_TTL, false))).toBe(false);
        expect(await store.get(id)).toBeUndefined();
        expect(await store.apply(id, changes({ set: { fresh: true } }), at())).toBe(true);
        expect(asRecord(await store.get(id))?.data).toEqual({ fresh: true });
      });
    });

    describe('retirement', () => {
      it('retire() hands over the live record and leaves a tombstone nothing writes through', async () => {
        const id = newId();
        const m = at();
        await store.apply(id, changes({ set: { a: 1 }, flash: { f: 'x' } }), m);
        expect(await store.retire(newId(), h.now() + LONG_TTL)).toBeUndefined();
        expect(await store.retire(id, h.now() + LONG_TTL)).toEqual({
          data: { a: 1 },
          flash: { f: 'x' },
          createdAt: m.createdAt,
          lastActivity: m.lastActivity,
        });
        expect(await store.get(id)).toBe('retired');
        expect(await store.apply(id, changes({ set: { b: 2 } }), at(LONG_TTL, false))).toBe(false);
        expect(await store.get(id)).toBe('retired');
        expect(await store.retire(id, h.now() + LONG_TTL)).toBeUndefined();
        expect(await store.get(id)).toBe('retired');
      });

      unless('create-over-tombstone')(
        'refuses a change set for a retired id even with create true',
        async () => {
          const id = newId();
          await store.apply(id, changes({ set: { a: 1 } }), at());
          await store.retire(id, h.now() + LONG_TTL);
          expect(await store.apply(id, changes({ set: { b: 2 } }), at())).toBe(false);
          expect(await store.get(id)).toBe('retired');
        },
      );

      it('lets a tombstone expire: the id then holds nothing, and nothing is written under it', async () => {
        const id = newId();
        await store.apply(id, changes({ set: { a: 1 } }), at());
        await store.retire(id, h.now() + SHORT_TTL);
        expect(await store.get(id)).toBe('retired');
        await h.expire(id);
        expect(await store.get(id)).toBeUndefined();
        expect(await store.retire(id, h.now() + LONG_TTL)).toBeUndefined();
        expect(await store.apply(id, changes({ set: { b: 2 } }), at(LONG_TTL, false))).toBe(false);
        expect(await store.get(id)).toBeUndefined();
      });

      it('destroy() removes a record or a tombstone now; a missing id is fine', async () => {
        const record = newId();
        const retired = newId();
        await store.apply(record, changes({ set: { a: 1 } }), at());
        await store.apply(retired, changes({ set: { b: 2 } }), at());
        await store.retire(retired, h.now() + LONG_TTL);
        await store.destroy(record);
        await store.destroy(retired);
        expect(await store.get(record)).toBeUndefined();
        expect(await store.get(retired)).toBeUndefined();
        expect(await store.apply(record, changes({ set: { back: 1 } }), at(LONG_TTL, false))).toBe(false);
        expect(await store.get(record)).toBeUndefined();
        await expect(store.destroy(record)).resolves.toBeUndefined();
        await expect(store.destroy(newId())).resolves.toBeUndefined();
      });
    });

    describe('maxSize', () => {
      it('refuses a change set past maxSize with SESSION_TOO_LARGE, counting UTF-8 bytes, and keeps what the record held', async () => {
        const id = newId();
        await store.apply(id, changes({ set: { small: 'x' }, flash: { f: 1 } }), at());
        const big = store.apply(id, changes({ set: { big: 'x'.repeat(h.maxSize) } }), at(LONG_TTL, false));
        await expect(big).rejects.toBeInstanceOf(SessionTooLargeError);
        await expect(big).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' });
        await expect(big).rejects.toThrow(/SESSION_TOO_LARGE/);
        // Fewer characters than maxSize, more bytes: 'é' is two bytes of UTF-8.
        const wide = store.apply(
          id,
          changes({ set: { wide: 'é'.repeat(Math.ceil(h.maxSize * 0.6)) } }),
          at(LONG_TTL, false),
        );
        await expect(wide).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' });
        expect(asRecord(await store.get(id))).toMatchObject({ data: { small: 'x' }, flash: { f: 1 } });
        expect(await store.apply(id, changes({ set: { b: 2 } }), at(LONG_TTL, false))).toBe(true);
        expect(asRecord(await store.get(id))?.data).toEqual({ small: 'x', b: 2 });
      });

      it('creates nothing for a new id whose first change set is past maxSize', async () => {
        const id = newId();
        await expect(
          store.apply(id, changes({ set: { big: 'x'.repeat(h.maxSize) } }), at()),
        ).rejects.toMatchObject({
          code: 'SESSION_TOO_LARGE',
        });
        expect(await store.get(id)).toBeUndefined();
      });
    });

    describe('optional powers', () => {
      it('has exactly the powers it declares; getNow answers as get, and close() resolves', async () => {
        const powers = (Object.keys(GUARDS) as StorePower[]).filter((power) => GUARDS[power](store));
        expect(powers.sort()).toEqual([...h.powers].sort());
        if (isSynchronous(store)) {
          const id = newId();
          expect(store.applyNow(id, changes({ set: { a: 1 } }), at())).toBe(true);
          expect(store.getNow(id)).toEqual(await store.get(id));
          expect(store.retireNow(id, h.now() + LONG_TTL)?.data).toEqual({ a: 1 });
          expect(store.getNow(id)).toBe('retired');
          store.destroyNow(id);
          expect(await store.get(id)).toBeUndefined();
        }
        if (isClosable(store)) await expect(store.close()).resolves.toBeUndefined();
      });

      it('prunes only expired records and tombstones, saying how many went (without prune, never returns them)', async () => {
        const [live, old, retiredLive, retiredOld] = [newId(), newId(), newId(), newId()];
        await store.apply(live, changes({ set: { a: 1 } }), at());
        await store.apply(old, changes({ set: { a: 1 } }), at(SHORT_TTL));
        await store.apply(retiredLive, changes(), at());
        await store.retire(retiredLive, h.now() + LONG_TTL);
        await store.apply(retiredOld, changes(), at());
        await store.retire(retiredOld, h.now() + SHORT_TTL);
        await h.expire(old, retiredOld);
        if (isPrunable(store)) {
          expect(await store.prune()).toBe(2);
          expect(await store.prune()).toBe(0);
        }
        expect(asRecord(await store.get(live))?.data).toEqual({ a: 1 });
        expect(await store.get(retiredLive)).toBe('retired');
        expect(await store.get(old)).toBeUndefined();
        expect(await store.get(retiredOld)).toBeUndefined();
      });
    });
  });
}
