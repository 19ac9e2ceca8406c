import { afterAll, describe, expect, it } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../lib/stores/file.store.js';
import { asRecord, changes, meta } from '../support/fixtures.js';
import { RecordingLogger } from '../support/logger.js';
import { NOBODY, isRoot } from '../support/unprivileged.js';

// realpath: on macOS tmpdir() is under a symbolic link (/var -> /private/var).
const root = realpathSync(mkdtempSync(join(tmpdir(), 'nest-session-file-directory-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
/** A new directory of the test's own, 0700 unless told. */
const place = (mode = 0o700) => {
  const path = join(root, `d${++dirs}`);
  mkdirSync(path);
  chmodSync(path, mode);
  return path;
};
const ID = 'victim'.padStart(43, 'A');
const NOW = 1_000_000_000;
const uid = process.geteuid!();

/** A session file as another local user would write it: the victim's session, now an admin's. */
function plant(directory: string, id = ID): void {
  const record = {
    data: { user: 'admin' },
    flash: {},
    createdAt: NOW,
    lastActivity: NOW,
    expiresAt: NOW + 60_000,
  };
  writeFileSync(join(directory, `${id}.json`), JSON.stringify(record));
}

function storeAt(directory: string, logger = new RecordingLogger()) {
  const store = new FileStore({ directory, pruneInterval: 0 }, logger as unknown as Logger, () => NOW);
  return { store, logger };
}

describe('FileStore: the session directory it finds', () => {
  it.each([
    { mode: 0o777, who: 'any user' },
    { mode: 0o770, who: 'its group' },
  ])(
    'refuses a directory $who may write, naming the path, the mode found and wanted, and the owner',
    async ({ mode, who }) => {
      const directory = join(place(), 'sessions');
      mkdirSync(directory);
      plant(directory);
      chmodSync(directory, mode);
      const { store } = storeAt(directory);
      const refused = store.checkAtStartup();
      await expect(refused).rejects.toThrow(/^SESSION_FILE_DIRECTORY_UNSAFE: /);
      await expect(refused).rejects.toThrow(
        `the session directory '${directory}' has mode 0${mode.toString(8)} and owner uid ${uid}`,
      );
      await expect(refused).rejects.toThrow(
        `: ${who} may write in it, so a session file in it may not be the app's`,
      );
      await expect(refused).rejects.toThrow(`Wanted: mode 0700. Fix: remove the files in it you do not know`);
      // Refused on first use too, and what was planted is never served; the mode is left as found.
      await expect(store.get(ID)).rejects.toThrow(/SESSION_FILE_DIRECTORY_UNSAFE/);
      await expect(store.apply(ID, changes({ set: { a: 1 } }), meta(NOW))).rejects.toThrow(
        /SESSION_FILE_DIRECTORY_UNSAFE/,
      );
      expect(store.misconfiguration(await store.get(ID).catch((e: unknown) => e))).toMatch(
        /the log names it/,
      );
      expect(statSync(directory).mode & 0o777).toBe(mode);
    },
  );

  it('refuses a directory another user owns (as root: chowned to nobody; otherwise: /, which root owns)', async () => {
    let directory = '/';
    if (isRoot()) {
      directory = join(place(), 'sessions');
      mkdirSync(directory, { mode: 0o700 });
      plant(directory);
      chownSync(directory, NOBODY, NOBODY);
    }
    const owner = isRoot() ? NOBODY : statSync('/').uid;
    const { store } = storeAt(directory);
    const refused = store.checkAtStartup();
    await expect(refused).rejects.toThrow(/^SESSION_FILE_DIRECTORY_UNSAFE: /);
    await expect(refused).rejects.toThrow(`and owner uid ${owner}: it belongs to another user`);
    await expect(refused).rejects.toThrow(`Wanted: owner uid ${uid}`);
    await expect(refused).rejects.toThrow(`Fix: chown ${uid} '${directory}'`);
    await expect(store.get(ID)).rejects.toThrow(/belongs to another user/);
  });

  it.each(['0755', '0750', '0711'])(
    'tightens a directory of mode %s (others may read or search it) to 0700, with a warning',
    async (octal) => {
      const mode = parseInt(octal, 8);
      const directory = join(place(), 'sessions');
      mkdirSync(directory);
      chmodSync(directory, mode);
      const { store, logger } = storeAt(directory);
      await store.checkAtStartup();
      expect(statSync(directory).mode & 0o777).toBe(0o700);
      expect(logger.entries).toEqual([
        {
          level: 'warn',
          message: `The session directory '${directory}' had mode 0${mode.toString(8)}: others could list the session ids in it. Its mode is now 0700`,
        },
      ]);
      expect(await store.apply(ID, changes({ set: { a: 1 } }), meta(NOW))).toBe(true);
    },
  );

  it('refuses a directory above it that group or others may write, unless it has the sticky bit', async () => {
    const open = place(0o777);
    const { store } = storeAt(join(open, 'sessions'));
    const refused = store.apply(ID, changes({ set: { a: 1 } }), meta(NOW));
    await expect(refused).rejects.toThrow(
      `'${open}', above the session directory '${join(open, 'sessions')}', has mode 0777 and owner uid ${uid}`,
    );
    await expect(refused).rejects.toThrow('any user could replace the session directory with another');
    await expect(refused).rejects.toThrow(`Fix: chmod go-w '${open}'`);
    await expect(storeAt(join(place(0o770), 'sessions')).store.checkAtStartup()).resolves.toBeUndefined();
    await expect(
      storeAt(join(place(0o770), 'sessions')).store.apply(ID, changes(), meta(NOW)),
    ).rejects.toThrow(/its group could replace the session directory/);

    const sticky = place(0o1777);
    const { store: inTmp } = storeAt(join(sticky, 'sessions'));
    expect(await inTmp.apply(ID, changes({ set: { a: 1 } }), meta(NOW))).toBe(true);
    expect(statSync(join(sticky, 'sessions')).mode & 0o777).toBe(0o700);
  });

  it('refuses a symbolic link on the way in a directory others may write; follows another once', async () => {
    const real = join(place(), 'sessions');
    const open = place(0o1777);
    symlinkSync(real, join(open, 'link'));
    const { store: refused } = storeAt(join(open, 'link'));
    await expect(refused.apply(ID, changes({ set: { a: 1 } }), meta(NOW))).rejects.toThrow(
      `'${join(open, 'link')}', on the way to the session directory, is a symbolic link in a directory any user may write (mode 01777)`,
    );
    expect(existsSync(real)).toBe(false);

    // In a directory only the app's user may write, the link is followed once: the store keeps to
    // the directory it found, wherever the link points later.
    const safe = place();
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(safe, 'link'));
    const { store } = storeAt(join(safe, 'link'));
    expect(await store.apply(ID, changes({ set: { a: 1 } }), meta(NOW))).toBe(true);
    const elsewhere = join(place(), 'sessions');
    mkdirSync(elsewhere, { mode: 0o700 });
    plant(elsewhere);
    unlinkSync(join(safe, 'link'));
    symlinkSync(elsewhere, join(safe, 'link'));
    expect(asRecord(await store.get(ID))?.data).toEqual({ a: 1 });
    expect(await store.apply(ID, changes({ set: { b: 2 } }), { ...meta(NOW), create: false })).toBe(true);
    expect(asRecord(await storeAt(real).store.get(ID))?.data).toEqual({ a: 1, b: 2 });
  });

  it('never follows a session file that is a symbolic link', async () => {
    const directory = join(place(), 'sessions');
    const { store } = storeAt(directory);
    await store.apply('other'.padStart(43, 'A'), changes({ set: { a: 1 } }), meta(NOW));
    const outside = place();
    plant(outside);
    symlinkSync(join(outside, `${ID}.json`), join(directory, `${ID}.json`));
    expect(await store.get(ID)).toBeUndefined();
    expect(await store.apply(ID, changes({ set: { user: 'me' } }), { ...meta(NOW), create: false })).toBe(
      false,
    );
  });

  it('refuses what is not a directory', async () => {
    const file = join(place(), 'sessions');
    writeFileSync(file, '');
    await expect(storeAt(file).store.checkAtStartup()).rejects.toThrow(
      `SESSION_FILE_DIRECTORY_UNSAFE: the session directory '${file}' is not a directory`,
    );
  });
});
