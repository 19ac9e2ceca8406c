import { afterAll, describe, expect, it } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionUserLimitError, type SessionUser, type UserLimit } from 'nest-session';
import { sessionTag } from '../../../lib/core/session-tag.js';
import { withoutFileIds } from '../../../lib/stores/file.errors.js';
import { FileStore } from '../../../lib/stores/file.store.js';
import { asRecord, changes, meta } from '../../support/fixtures.js';
import { RecordingLogger } from '../../support/logger.js';

const root = mkdtempSync(join(tmpdir(), 'nest-session-file-users-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDirectory = () => join(root, `d${++dirs}`, 'sessions');

/** A session id as the driver makes them: 43 characters of base64url. */
const idOf = (n: number | string) => `${n}`.padStart(43, 'A');
/** The name of a user's index file: the SHA-256 of the user id, base64url. */
const indexOf = (userId: string) => `${createHash('sha256').update(userId).digest('base64url')}.user`;

function clock(start = 1_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function storeAt(directory = freshDirectory(), c = clock(), logger = new RecordingLogger()) {
  const store = new FileStore({ directory, pruneInterval: 0 }, logger as unknown as Logger, c.now);
  return { store, directory, c, logger };
}

const user = (id: string, signedInAt: number): SessionUser => ({ id, signedInAt, label: 'Laptop' });
const limit = (max: number, onLimit: UserLimit['onLimit'], until: number): UserLimit => ({
  max,
  onLimit,
  until,
  revoked: [],
});
const entries = (directory: string, userId: string) =>
  JSON.parse(readFileSync(join(directory, indexOf(userId)), 'utf8')) as unknown[];
const listed = async (store: FileStore, userId: string) =>
  (await store.listUser(userId)).map(({ id }) => id).sort();

describe('FileStore: the user index', () => {
  it('keeps one 0600 file per user, named by a hash of the user id, holding id, sign-in time and expiry', async () => {
    const { store, directory, c } = storeAt();
    const odd = ['../../etc/passwd', 'a/b\\c\0d', 'é 👍 .json', 'x'.repeat(256)];
    for (const [n, userId] of odd.entries()) {
      await store.apply(idOf(n), changes({ user: user(userId, c.now()), policy: 'remember' }), meta(c.now()));
    }
    expect(readdirSync(directory).sort()).toEqual(
      [...odd.map((_, n) => `${idOf(n)}.json`), ...odd.map(indexOf)].sort(),
    );
    for (const [n, userId] of odd.entries()) {
      expect(statSync(join(directory, indexOf(userId))).mode & 0o777).toBe(0o600);
      expect(entries(directory, userId)).toEqual([[idOf(n), c.now(), c.now() + 60_000]]);
      expect(await listed(store, userId)).toEqual([idOf(n)]);
    }
    // Listed with its record, user and policy included, by another store on the directory too.
    const again = new FileStore({ directory, pruneInterval: 0 }, undefined, c.now);
    const [found] = await again.listUser(odd[0]);
    expect(found.record).toMatchObject({ user: { id: odd[0], label: 'Laptop' }, policy: 'remember' });
  });

  it('drops an entry whose session file is missing, retired or bound to another user, and rewrites the index', async () => {
    const { store, directory, c } = storeAt();
    const [live, bobs, retired] = [idOf('live'), idOf('bobs'), idOf('retired')];
    await store.apply(live, changes({ user: user('alice', c.now()) }), meta(c.now()));
    await store.apply(bobs, changes({ user: user('bob', c.now()) }), meta(c.now()));
    await store.apply(retired, changes(), meta(c.now()));
    await store.retire(retired, c.now() + 60_000);
    // As a process that died between writing the entry and the session file leaves it, and worse.
    const planted = [live, idOf('missing'), bobs, retired].map((id) => [id, c.now(), c.now() + 60_000]);
    writeFileSync(join(directory, indexOf('alice')), JSON.stringify(planted));
    expect(await listed(store, 'alice')).toEqual([live]);
    expect(entries(directory, 'alice')).toEqual([[live, c.now(), c.now() + 60_000]]);
    expect(await listed(store, 'bob')).toEqual([bobs]);
  });

  it('never drops a live session whose entry looks expired: the entry is checked against its file', async () => {
    const { store, directory, c } = storeAt();
    const signedInAt = c.now();
    await store.apply(idOf('a'), changes({ user: user('alice', signedInAt) }), meta(c.now(), 1000));
    c.advance(500);
    // A request extends the session; its change set does not name the user, so the index is untouched.
    await store.apply(idOf('a'), changes({ set: { seen: 1 } }), { ...meta(c.now(), 10_000), create: false });
    expect(entries(directory, 'alice')).toEqual([[idOf('a'), signedInAt, signedInAt + 1000]]);
    c.advance(1000);
    await store.apply(idOf('b'), changes({ user: user('alice', c.now()) }), meta(c.now()));
    expect(await listed(store, 'alice')).toEqual([idOf('a'), idOf('b')].sort());
    expect(entries(directory, 'alice')).toContainEqual([idOf('a'), signedInAt, signedInAt + 10_500]);
    expect(await store.prune()).toBe(0);
    expect(await listed(store, 'alice')).toEqual([idOf('a'), idOf('b')].sort());
  });

  it("prunes expired entries on the writes that touch a user's index; prune() removes the index files of users with no live session", async () => {
    const { store, directory, c } = storeAt();
    await store.apply(idOf('a'), changes({ user: user('alice', c.now()) }), meta(c.now(), 1000));
    await store.apply(idOf('c'), changes({ user: user('carol', c.now()) }), meta(c.now(), 1000));
    const carolsLock = join(directory, `${indexOf('carol')}.lock`);
    const carolsTemp = join(directory, `${indexOf('carol')}.0a1b2c.tmp`);
    mkdirSync(carolsLock);
    writeFileSync(carolsTemp, '[]');
    c.advance(2000);
    const old = (c.now() - 120_000) / 1000;
    for (const path of [carolsLock, carolsTemp]) utimesSync(path, old, old);
    await store.apply(idOf('b'), changes({ user: user('alice', c.now()) }), meta(c.now()));
    expect(entries(directory, 'alice')).toEqual([[idOf('b'), c.now(), c.now() + 60_000]]);
    expect(existsSync(join(directory, indexOf('carol')))).toBe(true);
    expect(await store.prune()).toBe(2);
    expect(readdirSync(directory).sort()).toEqual([`${idOf('b')}.json`, indexOf('alice')].sort());
  });

  it("takes a session out of its user's index when it is retired, destroyed, unbound or bound to another user", async () => {
    const { store, directory, c } = storeAt();
    for (const n of [1, 2, 3])
      await store.apply(idOf(n), changes({ user: user('alice', c.now()) }), meta(c.now()));
    await store.retire(idOf(1), c.now() + 1000);
    await store.destroy(idOf(2));
    expect(entries(directory, 'alice').map((e) => (e as string[])[0])).toEqual([idOf(3)]);
    const later = { ...meta(c.now()), create: false };
    await store.apply(idOf(3), changes({ user: user('bob', c.now()) }), later);
    expect(existsSync(join(directory, indexOf('alice')))).toBe(false);
    expect(await listed(store, 'bob')).toEqual([idOf(3)]);
    await store.apply(idOf(3), changes({ user: null }), later);
    expect(existsSync(join(directory, indexOf('bob')))).toBe(false);
    expect(asRecord(await store.get(idOf(3)))?.user).toBeUndefined();
  });

  it('a binding refused (its session is not live) retires nothing and leaves no entry', async () => {
    const { store, directory, c } = storeAt();
    await store.apply(idOf('a'), changes({ user: user('alice', c.now()) }), meta(c.now()));
    const full = limit(1, 'revoke-oldest', c.now());
    const refused = store.apply(idOf('gone'), changes({ user: user('alice', c.now()) }), {
      ...meta(c.now()),
      create: false,
      limit: full,
    });
    expect(await refused).toBe(false);
    expect(full.revoked).toEqual([]);
    expect(await listed(store, 'alice')).toEqual([idOf('a')]);
    expect(entries(directory, 'alice')).toEqual([[idOf('a'), c.now(), c.now() + 60_000]]);
    expect(existsSync(join(directory, `${idOf('gone')}.json`))).toBe(false);
  });

  it('lets no two bindings past the limit on two stores sharing the directory (two processes, as far as the lock knows)', async () => {
    const directory = freshDirectory();
    const c = clock(Date.now());
    const [a, b] = [storeAt(directory, c).store, storeAt(directory, c).store];
    const bind = (store: FileStore, n: number, onLimit: UserLimit['onLimit'], userId: string) =>
      store.apply(idOf(`${userId}${n}`), changes({ user: user(userId, c.now() + n) }), {
        ...meta(c.now()),
        limit: limit(3, onLimit, c.now()),
      });
    const rejected = await Promise.allSettled(
      Array.from({ length: 10 }, (_, n) => bind(n % 2 ? a : b, n, 'reject', 'alice')),
    );
    expect(rejected.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of rejected)
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(SessionUserLimitError);
    expect(await listed(a, 'alice')).toHaveLength(3);
    expect(await listed(b, 'alice')).toEqual(await listed(a, 'alice'));
    const oldest = await Promise.all(
      Array.from({ length: 10 }, (_, n) => bind(n % 2 ? a : b, n, 'revoke-oldest', 'bob')),
    );
    expect(oldest).toEqual(Array(10).fill(true));
    expect(await listed(b, 'bob')).toHaveLength(3);
    expect(readdirSync(directory).filter((name) => name.endsWith('.lock'))).toEqual([]);
  });

  it('never follows an index file that is a symbolic link: it is replaced, its target left alone', async () => {
    const { store, directory, c } = storeAt();
    await store.apply(idOf('b'), changes({ user: user('bob', c.now()) }), meta(c.now()));
    const target = join(root, `elsewhere-${++dirs}.json`);
    const planted = JSON.stringify([[idOf('b'), c.now(), c.now() + 60_000]]);
    writeFileSync(target, planted);
    symlinkSync(target, join(directory, indexOf('alice')));
    // bob's session listed under alice through the link would be a leak; bound to bob, it never is.
    expect(await listed(store, 'alice')).toEqual([]);
    await store.apply(idOf('a'), changes({ user: user('alice', c.now()) }), meta(c.now()));
    expect(lstatSync(join(directory, indexOf('alice'))).isFile()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(planted);
    expect(await listed(store, 'alice')).toEqual([idOf('a')]);
  });

  it('a failed index update after a retire is logged without ids; the retire stands', async () => {
    const { store, directory, c, logger } = storeAt();
    await store.apply(idOf('a'), changes({ user: user('alice', c.now()) }), meta(c.now()));
    rmSync(join(directory, indexOf('alice')));
    mkdirSync(join(directory, indexOf('alice')));
    expect((await store.retire(idOf('a'), c.now() + 1000))?.user?.id).toBe('alice');
    expect(await store.get(idOf('a'))).toBe('retired');
    const [warning] = logger.entries.filter((e) => e.level === 'warn');
    expect(warning.message).toMatch(/user's session index failed.*EISDIR/);
    expect(warning.message).not.toContain(idOf('a'));
    expect(warning.message).not.toContain(indexOf('alice').slice(0, -5));
    // Node's messages name an index file or its lock by the key, which is replaced by its tag too.
    const key = indexOf('alice').slice(0, -5);
    expect(withoutFileIds(`rename '/s/${key}.user.0a1b.tmp' -> '/s/${key}.user'`)).toBe(
      `rename '/s/${sessionTag(key)}.user.0a1b.tmp' -> '/s/${sessionTag(key)}.user'`,
    );
  });
});
