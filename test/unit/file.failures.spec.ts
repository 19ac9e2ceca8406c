import { afterAll, describe, expect, it, jest } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import { mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { sessionTag } from '../../lib/core/session-tag.js';
import { FileStoreError, meaningOf } from '../../lib/stores/file.errors.js';
import { SessionLocks, isLockHeld } from '../../lib/stores/file.locks.js';
import { FileStore } from '../../lib/stores/file.store.js';
import { asRecord, changes, meta } from '../support/fixtures.js';
import { withoutWriteAccess } from '../support/unprivileged.js';

const root = mkdtempSync(join(tmpdir(), 'nest-session-file-failures-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDirectory = () => join(root, `d${++dirs}`, 'sessions');
const ID = 'one'.padStart(43, 'A');
const NOW = 1_000_000_000;

/** The error a call fails with. */
async function failure(work: () => unknown): Promise<NodeJS.ErrnoException> {
  try {
    await work();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected the call to fail');
}

describe('FileStore failures', () => {
  it('tries the lock once on a directory it may not write (EACCES), and works once it may', async () => {
    const directory = freshDirectory();
    const store = new FileStore({ directory, pruneInterval: 0 }, undefined, () => NOW);
    await store.apply(ID, changes({ set: { a: 1 } }), meta(NOW));
    const attempts = store.locks.attempts;
    const error = await withoutWriteAccess(directory, () =>
      failure(() => store.apply(ID, changes({ set: { b: 2 } }), meta(NOW))),
    );
    expect(error).toBeInstanceOf(FileStoreError);
    expect(error.code).toBe('EACCES');
    expect(error.message).toMatch(/EACCES.*the app's user may not write in the session directory/);
    // Tried once: proper-lockfile's own retries (1000 of them, ~25 s) are for a lock that is held.
    expect(store.locks.attempts - attempts).toBe(1);
    expect(await store.apply(ID, changes({ set: { c: 3 } }), meta(NOW))).toBe(true);
    expect(asRecord(await store.get(ID))?.data).toEqual({ a: 1, c: 3 });
  });

  it('retries a lock only while another process holds it (real errors of each kind)', async () => {
    const directory = join(root, `d${++dirs}`);
    mkdirSync(directory);
    const file = join(directory, 'x.json');
    const release = await lockfile.lock(file, { realpath: false });
    const held = await failure(() => lockfile.lock(file, { realpath: false }));
    await release();
    writeFileSync(join(directory, 'a-file'), '');
    const gone = await failure(() => mkdir(join(directory, 'missing', 'x.lock')));
    const notDirectory = await failure(() => mkdir(join(directory, 'a-file', 'x.lock')));
    const denied = await withoutWriteAccess(directory, () => failure(() => mkdir(join(directory, 'x.lock'))));
    // No tmpfs here to run out of inodes on: /dev/full answers every write with a real ENOSPC.
    const full = await failure(() => writeFileSync('/dev/full', 'x'));

    expect([held, gone, notDirectory, denied, full].map((e) => e.code)).toEqual([
      'ELOCKED',
      'ENOENT',
      'ENOTDIR',
      'EACCES',
      'ENOSPC',
    ]);
    expect([held, gone, notDirectory, denied, full].map(isLockHeld)).toEqual([
      true,
      false,
      false,
      false,
      false,
    ]);
    expect(meaningOf(gone)).toBe('the session directory is gone; it is made again on the next write');
    expect(meaningOf(full)).toBe("no space or no inodes are left on the session directory's device");
    expect(new FileStoreError(full).message).toBe(
      "ENOSPC: no space left on device, write (no space or no inodes are left on the session directory's device)",
    );
  });

  it('names a lock taken over by its session tag, never by its id', async () => {
    const directory = join(root, `d${++dirs}`);
    mkdirSync(directory);
    let warned!: (message: string) => void;
    const warning = new Promise<string>((resolve) => (warned = resolve));
    const locks = new SessionLocks({ warn: (message: string) => warned(message) } as unknown as Logger);
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const message = await locks.run(
        ID,
        async () => directory,
        async () => {
          // Another process took the lock over: its directory is gone when the holder refreshes it (5 s).
          rmdirSync(join(directory, `${ID}.lock`));
          await jest.advanceTimersByTimeAsync(5_000);
          return warning;
        },
      );
      expect(message).toMatch(
        /^The lock of a session file was taken over: .*ENOENT: no such file or directory, stat/,
      );
      expect(message).toContain(`${sessionTag(ID)}.lock`);
      expect(message).not.toContain(ID);
    } finally {
      jest.useRealTimers();
    }
  });
});
