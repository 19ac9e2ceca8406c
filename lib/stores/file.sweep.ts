/**
 * The file store's sweep (prune()): what it removes from the session directory, each under the lock
 * its writers take. Expired session files and tombstones, index entries whose sessions are gone (an
 * index file goes with its last entry), and what a dead process left: temp files and locks.
 */
import { opendir, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCK_DIR, SESSION_FILE, TEMP_FILE, isMissing, removeFile, type Stored } from './file.format.js';
import { USER_FILE } from './file.users.js';

/** A temp file or lock this old belongs to no work still under way (locks are refreshed every 5 s). */
const LEFTOVER_STALE_MS = 60_000;

/** What the sweep needs of the store. */
export interface SweepHost {
  /** A session file's live content: undefined when it is missing, expired or no session file. */
  read(id: string): Promise<Stored | undefined>;
  /** Runs `work` holding the lock named `name`. */
  locked<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Checks the entries of the user index file `<key>.user` (file.users.ts). */
  sweepUser(key: string): Promise<void>;
  now(): number;
  /** Whether the store was closed: the sweep stops. */
  closed(): boolean;
}

/** Sweeps the directory at `location`; resolves to how many session files went. */
export async function sweepDirectory(location: string, host: SweepHost): Promise<number> {
  let removed = 0;
  let dir;
  try {
    dir = await opendir(location);
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
  /** Removes what a dead process left (a temp file, a lock), once it is too old to be in use. */
  const removeIfStale = async (name: string, remove: (path: string) => Promise<unknown>) => {
    const path = join(location, name);
    const info = await stat(path).catch(() => undefined);
    // A file's mtime is on the real clock, whatever clock the sessions follow (a test's, moved on).
    if (info && info.mtimeMs < Date.now() - LEFTOVER_STALE_MS) await remove(path).catch(() => undefined);
  };
  for await (const entry of dir) {
    if (host.closed()) break;
    if (entry.isDirectory() && LOCK_DIR.test(entry.name)) {
      await removeIfStale(entry.name, (path) => rmdir(path));
      continue;
    }
    if (!entry.isFile()) continue;
    const key = USER_FILE.exec(entry.name)?.[1];
    const id = SESSION_FILE.exec(entry.name)?.[1];
    if (key !== undefined) {
      await host.sweepUser(key);
    } else if (id !== undefined) {
      // Expired, or not a session file this store wrote: read() answers nothing for either.
      if ((await host.read(id)) !== undefined) continue;
      // Checked again under the lock: a request may have written it since.
      const gone = await host.locked(id, async () => {
        if ((await host.read(id)) !== undefined) return false;
        return removeFile(join(location, `${id}.json`));
      });
      if (gone) removed++;
    } else if (TEMP_FILE.test(entry.name)) {
      await removeIfStale(entry.name, removeFile);
    }
  }
  return removed;
}
