import type { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { errorMessage } from '../session.errors.js';

/** A lock not refreshed for this long belongs to a process that died: the next writer takes it over. */
const LOCK_STALE_MS = 10_000;
/** How a writer waits for another process's lock: short, growing, jittered tries, ~25 s in all. */
const LOCK_RETRIES = { retries: 1000, minTimeout: 2, maxTimeout: 25, factor: 1.3, randomize: true };

type Lock = typeof import('proper-lockfile').lock;

/**
 * The file driver's lock per session: in the process, a queue per id; between processes sharing the
 * directory, a lock directory `<id>.lock` (proper-lockfile), refreshed while held.
 */
export class SessionLocks {
  /** Per id, the tail of the queue of work holding its lock in this process. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private library: Promise<Lock> | undefined;

  constructor(
    private readonly directory: string,
    private readonly logger: Logger,
  ) {}

  /** Runs `work` holding the id's lock: first in this process's queue, then across processes. */
  run<T>(id: string, prepare: () => Promise<unknown>, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? Promise.resolve();
    const run = previous.then(async () => {
      await prepare();
      return this.locked(id, work);
    });
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

  private async locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const lock = await (this.library ??= import('proper-lockfile').then((m) => m.default.lock));
    const release = await lock(join(this.directory, `${id}.json`), {
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
}
