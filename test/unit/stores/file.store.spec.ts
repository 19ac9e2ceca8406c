import { afterAll, describe, expect, it, jest } from '@jest/globals';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../../lib/stores/file.store.js';
import { asRecord, changes, meta } from '../../support/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'nest-session-file-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDirectory = () => join(root, `d${++dirs}`, 'sessions');

/** A session id as the driver makes them: 43 characters of base64url. */
const idOf = (n: number | string) => `${n}`.padStart(43, 'A');
const ID = idOf('one');

function clock(start = 1_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function storeAt(directory = freshDirectory(), c = clock()) {
  return { store: new FileStore({ directory, pruneInterval: 0 }, undefined, c.now), directory, c };
}

describe('FileStore', () => {
  it('touches nothing when constructed, creates the directory on first write, one <id>.json per session', async () => {
    const { store, directory, c } = storeAt();
    expect(existsSync(directory)).toBe(false);
    expect(await store.get(ID)).toBeUndefined();
    expect(existsSync(directory)).toBe(false);
    await store.apply(ID, changes({ set: { x: 1, y: { deep: 1 } } }), meta(c.now()));
    await store.apply(ID, changes({ set: { z: 3 }, deleted: ['x'] }), { ...meta(c.now()), create: false });
    expect(readdirSync(directory)).toEqual([`${ID}.json`]);
    // Only the app's user reads sessions: the directory it creates is 0700, each file 0600.
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    expect(statSync(join(directory, `${ID}.json`)).mode & 0o777).toBe(0o600);
    expect(asRecord(await store.get(ID))?.data).toEqual({ y: { deep: 1 }, z: 3 });
    const again = new FileStore({ directory, pruneInterval: 0 }, undefined, c.now);
    expect(asRecord(await again.get(ID))).toEqual({
      data: { y: { deep: 1 }, z: 3 },
      flash: {},
      createdAt: c.now(),
      lastActivity: c.now(),
    });
  });

  it("reads back a record's user and policy, and refuses a file whose user is not one", async () => {
    const { store, directory, c } = storeAt();
    const user = { id: 'alice', signedInAt: c.now(), label: 'Laptop' };
    await store.apply(ID, changes({ user, policy: 'remember' }), meta(c.now()));
    const again = new FileStore({ directory, pruneInterval: 0 }, undefined, c.now);
    expect(asRecord(await again.get(ID))).toMatchObject({ user, policy: 'remember' });
    const file = join(directory, `${ID}.json`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"signedInAt"', '"signedOutAt"'));
    expect(await again.get(ID)).toBeUndefined();
  });

  it('leaves no file for an id it holds nothing for: none for an id loaded as existing, none after destroy', async () => {
    const { store, directory, c } = storeAt();
    expect(await store.apply(ID, changes({ set: { a: 1 } }), { ...meta(c.now()), create: false })).toBe(
      false,
    );
    expect(existsSync(join(directory, `${ID}.json`))).toBe(false);
    await store.apply(ID, changes({ set: { a: 1 } }), meta(c.now()));
    await store.apply(idOf('retired'), changes({ set: { a: 1 } }), meta(c.now()));
    await store.retire(idOf('retired'), c.now() + 1000);
    expect(readdirSync(directory).sort()).toEqual([`${ID}.json`, `${idOf('retired')}.json`].sort());
    await store.destroy(ID);
    await store.destroy(idOf('retired'));
    expect(readdirSync(directory)).toEqual([]);
  });

  it('expires a record and a tombstone at their expiry time on its clock, to the millisecond', async () => {
    const { store, c } = storeAt();
    await store.apply(ID, changes({ set: { stale: true } }), meta(c.now(), 1000));
    await store.apply(idOf('retired'), changes(), meta(c.now(), 10_000));
    await store.retire(idOf('retired'), c.now() + 1000);
    c.advance(999);
    expect(asRecord(await store.get(ID))?.data).toEqual({ stale: true });
    expect(await store.get(idOf('retired'))).toBe('retired');
    c.advance(1);
    expect(await store.get(ID)).toBeUndefined();
    expect(await store.get(idOf('retired'))).toBeUndefined();
  });

  describe('file names', () => {
    const rejected = [
      '',
      '..',
      '../planted',
      '../../planted',
      'a/b',
      'a\\b',
      'x'.repeat(19),
      'x'.repeat(129),
      'planted.json',
      `${'A'.repeat(40)}%2e%2e`,
      `${'A'.repeat(40)}\0`,
      `${'A'.repeat(40)}\n`,
    ];

    it.each(rejected)('never turns %j into a path: reads find nothing, writes are refused', async (id) => {
      const { store, directory, c } = storeAt();
      mkdirSync(directory, { recursive: true });
      const planted = JSON.stringify({
        data: { planted: true },
        flash: {},
        createdAt: 1,
        lastActivity: 1,
        expiresAt: Infinity,
      });
      writeFileSync(join(directory, '..', 'planted.json'), planted.replace('Infinity', '1e15'));
      writeFileSync(join(root, 'planted.json'), planted.replace('Infinity', '1e15'));
      expect(await store.get(id)).toBeUndefined();
      await expect(store.apply(id, changes({ set: { a: 1 } }), meta(c.now()))).rejects.toThrow(TypeError);
      expect(await store.retire(id, c.now() + 1000)).toBeUndefined();
      await store.destroy(id);
      expect(readdirSync(directory)).toEqual([]);
      expect(JSON.parse(readFileSync(join(directory, '..', 'planted.json'), 'utf8')).data).toEqual({
        planted: true,
      });
    });

    it('accepts the ids the driver makes (base64url, 20 to 128 characters)', async () => {
      const { store, c } = storeAt();
      for (const id of ['a'.repeat(20), 'Z9_-'.repeat(32), idOf('x')]) {
        expect(await store.apply(id, changes({ set: { ok: id.length } }), meta(c.now()))).toBe(true);
        expect(asRecord(await store.get(id))?.data).toEqual({ ok: id.length });
      }
    });
  });

  it('writes through a temp file and a rename: a reader never sees half a session', async () => {
    const { store, c } = storeAt();
    await store.apply(ID, changes({ set: { v: 'x'.repeat(64 * 1024) } }), meta(c.now()));
    let reads = 0;
    let missing = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        reads++;
        if (asRecord(await store.get(ID)) === undefined) missing++;
      }
    })();
    for (let i = 0; i < 20; i++) {
      await store.apply(ID, changes({ set: { v: String(i % 10).repeat(64 * 1024) } }), meta(c.now()));
    }
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(20);
    expect(missing).toBe(0);
  });

  it('keeps every change when two stores on one directory (two processes, as far as the lock knows) write at once', async () => {
    const directory = freshDirectory();
    const c = clock(Date.now());
    const a = new FileStore({ directory, pruneInterval: 0 }, undefined, c.now);
    const b = new FileStore({ directory, pruneInterval: 0 }, undefined, c.now);
    await a.apply(ID, changes({ set: { warm: true } }), meta(c.now()));
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 ? a : b).apply(ID, changes({ set: { [`k${i}`]: i } }), { ...meta(c.now()), create: false }),
      ),
    );
    expect(Object.keys(asRecord(await a.get(ID))!.data)).toHaveLength(101);
    expect(readdirSync(directory)).toEqual([`${ID}.json`]);
  });

  it('fails (the driver answers 503) when the directory cannot be made, and works once it can', async () => {
    const blocker = join(root, `blocker-${++dirs}`);
    writeFileSync(blocker, 'not a directory');
    const { store, c } = storeAt(join(blocker, 'sessions'));
    await expect(store.apply(ID, changes({ set: { a: 1 } }), meta(c.now()))).rejects.toThrow(
      /ENOTDIR|EEXIST/,
    );
    await expect(store.get(ID)).rejects.toThrow(/ENOTDIR/);
    rmSync(blocker);
    expect(await store.apply(ID, changes({ set: { a: 1 } }), meta(c.now()))).toBe(true);
  });

  describe('prune', () => {
    it('deletes expired records and tombstones, unreadable files, dead temp files and locks; keeps the rest', async () => {
      const { store, directory, c } = storeAt();
      await store.apply(idOf('live'), changes({ set: { a: 1 } }), meta(c.now(), 10_000));
      await store.apply(idOf('old'), changes({ set: { a: 1 } }), meta(c.now(), 1000));
      await store.apply(idOf('retiredLive'), changes(), meta(c.now(), 10_000));
      await store.retire(idOf('retiredLive'), c.now() + 10_000);
      await store.apply(idOf('retiredOld'), changes(), meta(c.now(), 10_000));
      await store.retire(idOf('retiredOld'), c.now() + 1000);
      writeFileSync(join(directory, `${idOf('corrupt')}.json`), '{"data":');
      writeFileSync(join(directory, 'README.txt'), 'not a session file');
      const deadTemp = join(directory, `${idOf('live')}.json.0a1b2c.tmp`);
      const freshTemp = join(directory, `${idOf('old')}.json.3d4e5f.tmp`);
      const deadLock = join(directory, `${idOf('crashed')}.lock`);
      const heldLock = join(directory, `${idOf('held')}.lock`);
      writeFileSync(deadTemp, '{}');
      writeFileSync(freshTemp, '{}');
      mkdirSync(deadLock);
      mkdirSync(heldLock);
      c.advance(2000);
      // Files' times are on the real clock, not the store's.
      const old = (Date.now() - 120_000) / 1000;
      for (const path of [deadTemp, deadLock]) utimesSync(path, old, old);
      for (const path of [freshTemp, heldLock]) utimesSync(path, Date.now() / 1000, Date.now() / 1000);

      expect(await store.prune()).toBe(3);
      expect(readdirSync(directory).sort()).toEqual(
        [
          `${idOf('live')}.json`,
          `${idOf('retiredLive')}.json`,
          'README.txt',
          `${idOf('old')}.json.3d4e5f.tmp`,
          `${idOf('held')}.lock`,
        ].sort(),
      );
      expect(asRecord(await store.get(idOf('live')))?.data).toEqual({ a: 1 });
      expect(await store.get(idOf('retiredLive'))).toBe('retired');
      expect(await store.prune()).toBe(0);
    });

    it('keeps a file a request wrote after the sweep read it expired', async () => {
      const { store, c } = storeAt();
      await store.apply(ID, changes({ set: { a: 1 } }), meta(c.now(), 1000));
      c.advance(2000);
      const pruning = store.prune();
      const writing = store.apply(ID, changes({ set: { b: 2 } }), meta(c.now(), 10_000));
      await Promise.all([pruning, writing]);
      expect(asRecord(await store.get(ID))?.data).toEqual({ b: 2 });
    });

    it('sweeps every pruneInterval on a timer that does not keep the process alive; close() stops it', async () => {
      const directory = freshDirectory();
      const c = clock(Date.now());
      const writer = new FileStore({ directory, pruneInterval: 0 }, undefined, c.now);
      for (const n of [1, 2, 3]) await writer.apply(idOf(n), changes(), meta(c.now(), 1000));
      c.advance(2000);
      const store = new FileStore({ directory, pruneInterval: 20 }, undefined, c.now);
      const run = store.sweeper.run.bind(store.sweeper);
      const swept = new Promise<number>((resolve) => {
        jest.spyOn(store.sweeper, 'run').mockImplementation(() => run().then((n) => (resolve(n), n)));
      });
      expect(await store.get(idOf('first use starts the timer'))).toBeUndefined();
      expect(store.sweeper.scheduled).toBe(false);
      await store.apply(ID, changes(), meta(c.now()));
      expect(store.sweeper.scheduled).toBe(true);
      expect(store.sweeper.keepsProcessAlive).toBe(false);
      expect(await swept).toBe(3);
      await store.close();
      expect(store.sweeper.scheduled).toBe(false);
      await expect(store.apply(ID, changes(), meta(c.now()))).rejects.toThrow(/closed/);
      expect(statSync(join(directory, `${ID}.json`)).isFile()).toBe(true);
    });
  });

  it('close() waits for the writes under way', async () => {
    const { store, c } = storeAt();
    const writes = Array.from({ length: 20 }, (_, i) =>
      store.apply(ID, changes({ set: { [`k${i}`]: i } }), meta(c.now())),
    );
    await store.close();
    const reader = new FileStore(
      { directory: (store as FileStore).directory, pruneInterval: 0 },
      undefined,
      c.now,
    );
    expect(Object.keys(asRecord(await reader.get(ID))!.data)).toHaveLength(20);
    await Promise.all(writes);
  });
});
