import { Logger } from '@nestjs/common';
import { mkdir, opendir, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { applyChanges, emptyRecord } from '../core/change-set.js';
import { SessionTooLargeError, errorMessage } from '../session.errors.js';
import {
  LOCK_DIR,
  SESSION_FILE,
  SESSION_ID,
  TEMP_FILE,
  checkId,
  isMissing,
  readStored,
  recordOf,
  removeFile,
  writeStored,
  type Stored,
} from './file.format.js';
import type {
  ClosableSessionStore,
  PrunableSessionStore,
  SessionChanges,
  SessionMeta,
  SessionRecord,
} from './session-store.js';
import { describeFailure } from './file.errors.js';
import { resolveFileOptions, type FileStoreOptions } from './file.options.js';
import { SessionLocks } from './file.locks.js';
import { Sweeper } from './sweeper.js';

export {
  FILE_DEFAULTS,
  resolveFileOptions,
  type FileDriverOptions,
  type FileStoreOptions,
} from './file.options.js';

/** A temp file or lock this old belongs to no work still under way (locks are refreshed every 5 s): prune() removes it. */
const LEFTOVER_STALE_MS = 60_000;

/** A change set waiting for its session's lock. */
interface Pending {
  changes: SessionChanges;
  meta: SessionMeta;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

/** What one queued change set gets: applied, refused (not live), or an error. */
type Outcome = boolean | { error: unknown };

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
  /** @internal */
  readonly locks: SessionLocks;
  /** Per id, the change sets waiting for its lock, to be applied together. */
  private readonly batches = new Map<string, Pending[]>();
  private started: Promise<string> | undefined;
  /** @internal */
  readonly sweeper: Sweeper;
  private closed = false;

  constructor(
    options: FileStoreOptions = {},
    private readonly logger: Logger = new Logger('Session'),
    private readonly now: () => number = () => Date.now(),
  ) {
    const resolved = resolveFileOptions(options);
    this.directory = resolve(resolved.directory);
    this.pruneInterval = resolved.pruneInterval;
    this.maxSize = options.maxSize ?? Infinity;
    this.locks = new SessionLocks(logger);
    this.sweeper = new Sweeper(
      () => this.sweep(),
      this.pruneInterval,
      (error) =>
        this.logger.warn(`Pruning expired session files failed: ${errorMessage(describeFailure(error))}`),
    );
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    this.checkOpen();
    const stored = await this.read(id).catch(this.failed);
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
    return new Promise<boolean>((resolve, reject) => batch.push({ changes, meta, resolve, reject })).catch(
      this.failed,
    );
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    return this.exclusive(id, async () => {
      const stored = await this.read(id);
      if (stored === undefined || 'retired' in stored) return undefined;
      await this.write(id, { retired: true, expiresAt: until });
      return recordOf(stored);
    }).catch(this.failed);
  }

  async destroy(id: string): Promise<void> {
    if (!SESSION_ID.test(id)) return;
    await this.exclusive(id, () => removeFile(this.fileOf(id))).catch(this.failed);
  }

  /** Deletes expired session files (and tombstones), and the temp files and locks a dead process left. */
  prune(): Promise<number> {
    return this.sweeper.run().catch(this.failed);
  }

  /** Stops the sweep and waits for the work under way; the store refuses work afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.sweeper.stop();
    await this.locks.idle();
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

  /** Runs `work` holding the id's lock (file.locks.ts), once the directory is there. */
  private exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.checkOpen();
    return this.locks.run(id, () => this.ready(), work);
  }

  /**
   * The directory, made on first use and again after a call failed (it may have been removed); a
   * failure (no space, no permission) is tried again by the next call.
   */
  private ready(): Promise<string> {
    this.started ??= this.start().catch((error: unknown) => {
      this.started = undefined;
      throw error;
    });
    return this.started;
  }

  private async start(): Promise<string> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    this.sweeper.start();
    return this.directory;
  }

  /**
   * What a call failed with, told for the log (FileStoreError); after an I/O failure the next call
   * makes sure of the directory again, so a directory removed while the app runs is made again.
   */
  private readonly failed = (error: unknown): never => {
    const described = describeFailure(error);
    if (described !== error) this.started = undefined;
    throw described;
  };

  /** The live content of a session file: undefined when missing, expired or unreadable as a session. */
  private async read(id: string): Promise<Stored | undefined> {
    const stored = await readStored(this.fileOf(id));
    return stored === undefined || stored.expiresAt <= this.now() ? undefined : stored;
  }

  private write(id: string, stored: Stored): Promise<void> {
    return writeStored(this.fileOf(id), stored);
  }

  private fileOf(id: string): string {
    return join(this.directory, `${id}.json`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the file session store is closed');
  }
}
