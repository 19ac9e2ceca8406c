import type { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { errorMessage } from '../session.errors.js';
import { withoutFileIds } from './file.errors.js';

/** A lock not refreshed for this long belongs to a process that died: the next writer takes it over. */
const LOCK_STALE_MS = 10_000;
/** How often a writer tries another process's lock before it gives up: ~25 s in all (see lockDelay). */
const LOCK_TRIES = 1000;

type Lock = typeof import('proper-lockfile').lock;

/** The wait before try `attempt + 1`: short, growing, jittered, at most 25 ms. */
function lockDelay(attempt: number): number {
  return Math.min(25, 2 * 1.3 ** attempt * (1 + Math.random()));
}

/**
 * Whether a failed lock attempt is worth another: only while another process holds the lock
 * (proper-lockfile's ELOCKED, its answer to EEXIST on a lock that is not stale). Anything else (the
 * directory gone, no space or inodes left, no permission, a read-only file system) stays until
 * someone fixes it, so the request fails at once instead of trying for 25 s.
 */
export function isLockHeld(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ELOCKED';
}

/**
 * The file driver's lock per session: in the process, a queue per id; between processes sharing the
 * directory, a lock directory `<id>.lock` (proper-lockfile), refreshed while held. proper-lockfile is
 * asked for one try at a time (its own retries would retry every error): the waiting is done here.
 */
export class SessionLocks {
  /** @internal how many times a lock was tried, for tests: an error retrying cannot fix is tried once. */
  attempts = 0;
  /** Per id, the tail of the queue of work holding its lock in this process. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private library: Promise<Lock> | undefined;

  constructor(private readonly logger: Logger) {}

  /**
   * Runs `work` holding the id's lock: first in this process's queue, then across processes, in the
   * directory `prepare` resolves to.
   */
  run<T>(id: string, prepare: () => Promise<string>, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? Promise.resolve();
    const run = previous.then(async () => this.locked(id, await prepare(), work));
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

  /** Resolves once the work queued now is done. */
  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()]);
  }

  private async locked<T>(id: string, directory: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(id, directory);
    try {
      return await work();
    } finally {
      await release().catch(() => undefined);
    }
  }

  private async acquire(id: string, directory: string): Promise<() => Promise<void>> {
    const lock = await (this.library ??= import('proper-lockfile').then((m) => m.default.lock));
    for (let attempt = 1; ; attempt++) {
      this.attempts++;
      try {
        return await lock(join(directory, `${id}.json`), {
          realpath: false,
          lockfilePath: join(directory, `${id}.lock`),
          stale: LOCK_STALE_MS,
          retries: 0,
          onCompromised: (error) =>
            this.logger.warn(
              `The lock of a session file was taken over: ${withoutFileIds(errorMessage(error))}`,
            ),
        });
      } catch (error) {
        if (!isLockHeld(error) || attempt >= LOCK_TRIES) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, lockDelay(attempt)));
    }
  }
}
