import { Sweeper } from './sweeper.js';
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdir, opendir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SessionTooLargeError, errorMessage } from '../session.errors.js';
import { SESSION_DEFAULTS, type FileDriverOptions } from '../session.options.js';
import {
  applyChanges,
  emptyRecord,
  type ClosableSessionStore,
  type PrunableSessionStore,
  type SessionChanges,
  type SessionMeta,
  type SessionRecord,
} from './session-store.js';

export interface FileStoreOptions extends FileDriverOptions {
  /** Bytes of one session's JSON past which a change is refused (SESSION_TOO_LARGE). */
  maxSize?: number;
}

/** The only ids that become file names: base64url, as the driver makes them (256 random bits). */
const SESSION_ID = /^[A-Za-z0-9_-]{20,128}$/;
/** `<id>.json`, the only files prune() reads. */
const SESSION_FILE = /^([A-Za-z0-9_-]{20,128})\.json$/;
/** What a write leaves behind when its process dies between writing and renaming. */
const TEMP_FILE = /^[A-Za-z0-9_-]{20,128}\.json\.[0-9a-f]+\.tmp$/;
/** A lock directory, `<id>.lock`. */
const LOCK_DIR = /^[A-Za-z0-9_-]{20,128}\.lock$/;
/** A temp file or lock this old belongs to no work still under way (locks are refreshed every 5 s): prune() removes it. */
const LEFTOVER_STALE_MS = 60_000;

/** A lock not refreshed for this long belongs to a process that died: the next writer takes it over. */
const LOCK_STALE_MS = 10_000;
/** How a writer waits for another process's lock: short, growing, jittered tries, ~25 s in all. */
const LOCK_RETRIES = { retries: 1000, minTimeout: 2, maxTimeout: 25, factor: 1.3, randomize: true };

/** What a session file holds: a record and when it may be dropped, or a retired id's tombstone. */
type Stored = (SessionRecord & { expiresAt: number }) | { retired: true; expiresAt: number };

/** A change set waiting for its session's lock. */
interface Pending {
  changes: SessionChanges;
  meta: SessionMeta;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

/** What one queued change set gets: applied, refused (not live), or an error. */
type Outcome = boolean | { error: unknown };

type Lock = typeof import('proper-lockfile').lock;

/**
 * One JSON file per session in a directory, as Laravel's, AdonisJS's and Lucid's file drivers keep
 * them, for several processes on one machine sharing that directory:
 * - every write goes to a temp file renamed over `<id>.json`, so a reader sees the old file or the
 *   new one, never half of one: reads take no lock;
 * - change sets are applied under a lock per session: in the process, a queue per id; between
 *   processes, a lock directory `<id>.lock` (proper-lockfile), so no process loses another's change;
 *   the change sets that waited for the lock are applied together, in order, with one write;
 * - a retired id's file holds a tombstone until its session would have expired;
 * - file names come only from ids of the expected shape (base64url, 20 to 128 characters): anything
 *   else is never a path (reads find nothing, writes are refused).
 * Only the app's user can read them: the directory it creates is 0700, each file 0600. Constructing
 * it touches nothing: the directory is created and the sweep started on first use.
 */
export class FileStore implements PrunableSessionStore, ClosableSessionStore {
  readonly directory: string;
  private readonly pruneInterval: number;
  private readonly maxSize: number;
  /** Per id, the tail of the queue of work holding its lock in this process. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per id, the change sets waiting for its lock, to be applied together. */
  private readonly batches = new Map<string, Pending[]>();
  private started: Promise<Lock> | undefined;
  private readonly sweeper: Sweeper;
  private closed = false;

  constructor(
    options: FileStoreOptions = {},
    private readonly logger: Logger = new Logger('Session'),
    private readonly now: () => number = () => Date.now(),
  ) {
    this.directory = resolve(options.directory ?? SESSION_DEFAULTS.file.directory);
    this.pruneInterval = options.pruneInterval ?? SESSION_DEFAULTS.file.pruneInterval;
    this.maxSize = options.maxSize ?? Infinity;
    this.sweeper = new Sweeper(
      () => this.sweep(),
      this.pruneInterval,
      (error) => this.logger.warn(`Pruning expired session files failed: ${errorMessage(error)}`),
    );
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    this.checkOpen();
    const stored = await this.read(id);
    if (stored === undefined) return undefined;
    return 'retired' in stored ? 'retired' : recordOf(stored);
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    checkId(id);
    this.checkOpen();
    // Change sets that wait for the same id's lock are applied together: in order, each on what the
    // one before it left, with one file write for all of them.
    let batch = this.batches.get(id);
    if (batch === undefined) {
      const pending: Pending[] = [];
      batch = pending;
      this.batches.set(id, pending);
      const close = () => {
        if (this.batches.get(id) === pending) this.batches.delete(id);
      };
      void this.exclusive(id, () => {
        close();
        return this.applyAll(id, pending);
      }).then(
        (outcomes) =>
          pending.forEach((p, i) => {
            const outcome = outcomes[i];
            if (typeof outcome === 'boolean') p.resolve(outcome);
            else p.reject(outcome.error);
          }),
        (error: unknown) => {
          close();
          pending.forEach((p) => p.reject(error));
        },
      );
    }
    return new Promise<boolean>((resolve, reject) => batch.push({ changes, meta, resolve, reject }));
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    return this.exclusive(id, async () => {
      const stored = await this.read(id);
      if (stored === undefined || 'retired' in stored) return undefined;
      await this.write(id, { retired: true, expiresAt: until });
      return recordOf(stored);
    });
  }

  async destroy(id: string): Promise<void> {
    if (!SESSION_ID.test(id)) return;
    await this.exclusive(id, () => removeFile(this.fileOf(id)));
  }

  /** Deletes expired session files (and tombstones), and the temp files and locks a dead process left. */
  prune(): Promise<number> {
    return this.sweeper.run();
  }

  /** Stops the sweep and waits for the work under way; the store refuses work afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.sweeper.stop();
    await Promise.all([...this.queues.values()]);
  }

  /**
   * Applies queued change sets in order on the file's record, then writes it once. Resolves to what
   * each one gets (applied, refused, or an error), delivered once the lock is released.
   */
  private async applyAll(id: string, pending: Pending[]): Promise<Outcome[]> {
    const stored = await this.read(id);
    if (stored !== undefined && 'retired' in stored) return pending.map(() => false);
    let record = stored && recordOf(stored);
    let expiresAt = stored?.expiresAt ?? 0;
    const outcomes = pending.map((p): Outcome => {
      if (record === undefined && !p.meta.create) return false;
      const next = applyChanges(structuredClone(record ?? emptyRecord(p.meta)), p.changes, p.meta);
      const size = Buffer.byteLength(JSON.stringify({ data: next.data, flash: next.flash }));
      if (size > this.maxSize) return { error: SessionTooLargeError.inStore(size, this.maxSize) };
      record = next;
      expiresAt = p.meta.expiresAt;
      return true;
    });
    if (!outcomes.includes(true)) return outcomes;
    try {
      await this.write(id, { ...record!, expiresAt });
    } catch (error) {
      return outcomes.map((outcome) => (outcome === true ? { error } : outcome));
    }
    return outcomes;
  }

  private async sweep(): Promise<number> {
    await this.ready();
    let removed = 0;
    let dir;
    try {
      dir = await opendir(this.directory);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    for await (const entry of dir) {
      if (this.closed) break;
      if (entry.isDirectory() && LOCK_DIR.test(entry.name)) {
        await this.removeIfStale(entry.name, (path) => rmdir(path));
        continue;
      }
      if (!entry.isFile()) continue;
      const id = SESSION_FILE.exec(entry.name)?.[1];
      if (id !== undefined) {
        // Expired, or not a session file this store wrote: read() answers nothing for either.
        if ((await this.read(id)) !== undefined) continue;
        // Checked again under the lock: a request may have written it since.
        const gone = await this.exclusive(id, async () => {
          if ((await this.read(id)) !== undefined) return false;
          return removeFile(this.fileOf(id));
        });
        if (gone) removed++;
      } else if (TEMP_FILE.test(entry.name)) {
        await this.removeIfStale(entry.name, removeFile);
      }
    }
    return removed;
  }

  /** Removes what a dead process left (a temp file, a lock), once it is too old to be in use. */
  private async removeIfStale(name: string, remove: (path: string) => Promise<unknown>): Promise<void> {
    const path = join(this.directory, name);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < this.now() - LEFTOVER_STALE_MS) await remove(path).catch(() => undefined);
  }

  /** Runs `work` holding the id's lock: first in this process's queue, then across processes. */
  private exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.checkOpen();
    const previous = this.queues.get(id) ?? Promise.resolve();
    const run = previous.then(() => this.locked(id, work));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return run;
  }

  private async locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const lock = await this.ready();
    const release = await lock(this.fileOf(id), {
      realpath: false,
      lockfilePath: join(this.directory, `${id}.lock`),
      stale: LOCK_STALE_MS,
      retries: LOCK_RETRIES,
      onCompromised: (error) =>
        this.logger.warn(`The lock of a session file was taken over: ${errorMessage(error)}`),
    });
    try {
      return await work();
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** The directory and the lock library, on first use; a failure (unwritable directory) is tried again next time. */
  private ready(): Promise<Lock> {
    this.started ??= this.start().catch((error: unknown) => {
      this.started = undefined;
      throw error;
    });
    return this.started;
  }

  private async start(): Promise<Lock> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const { lock } = (await import('proper-lockfile')).default;
    this.startSweep();
    return lock;
  }

  private startSweep(): void {
    this.sweeper.start(() => this.prune());
  }

  /** The live content of a session file: undefined when missing, expired or unreadable as a session. */
  private async read(id: string): Promise<Stored | undefined> {
    let json: string;
    try {
      json = await readFile(this.fileOf(id), 'utf8');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const stored = parse(json);
    return stored === undefined || stored.expiresAt <= this.now() ? undefined : stored;
  }

  /** Writes the whole file under a temp name, then renames it over the session's file. */
  private async write(id: string, stored: Stored): Promise<void> {
    const file = this.fileOf(id);
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(stored), { mode: 0o600 });
      await rename(temp, file);
    } catch (error) {
      await removeFile(temp);
      throw error;
    }
  }

  private fileOf(id: string): string {
    return join(this.directory, `${id}.json`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the file session store is closed');
  }
}

function checkId(id: string): void {
  if (!SESSION_ID.test(id)) {
    throw new TypeError('a session id must be base64url of 20 to 128 characters: refusing it as a file name');
  }
}

function recordOf(stored: SessionRecord): SessionRecord {
  return {
    data: stored.data,
    flash: stored.flash,
    createdAt: stored.createdAt,
    lastActivity: stored.lastActivity,
  };
}

function parse(json: string): Stored | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.expiresAt !== 'number') return undefined;
  if (v.retired === true) return { retired: true, expiresAt: v.expiresAt };
  const isObject = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObject(v.data) || !isObject(v.flash)) return undefined;
  if (typeof v.createdAt !== 'number' || typeof v.lastActivity !== 'number') return undefined;
  return v as Stored;
}

/** Deletes a file; resolves whether it was there. */
async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
