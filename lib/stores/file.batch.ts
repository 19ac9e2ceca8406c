/**
 * The file store's change sets that wait for the same session's lock, applied together once it is
 * held: in order, each on what the one before it left, with one file write for all of them.
 */
import { applyChanges, emptyRecord, type SessionChanges, type SessionMeta } from '../core/change-set.js';
import { SessionTooLargeError } from '../session.errors.js';
import { recordOf, type Stored } from './file.format.js';

/** A change set waiting for its session's lock. */
export interface Pending {
  changes: SessionChanges;
  meta: SessionMeta;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

/** A change set with its timestamps, as applyBatch applies it. */
export type ChangeSet = Pick<Pending, 'changes' | 'meta'>;

/** What one queued change set gets: applied, refused (not live), or an error. */
export type Outcome = boolean | { error: unknown };

/**
 * Applies queued change sets in order on what the session's file holds: what each one gets, and what
 * to write (undefined when none was applied). A retired id's tombstone refuses them all.
 */
export function applyBatch(
  stored: Stored | undefined,
  pending: readonly ChangeSet[],
  maxSize: number,
): { outcomes: Outcome[]; write?: Stored } {
  if (stored !== undefined && 'retired' in stored) return { outcomes: pending.map(() => false) };
  let record = stored && recordOf(stored);
  let expiresAt = stored?.expiresAt ?? 0;
  const outcomes = pending.map((p): Outcome => {
    if (record === undefined && !p.meta.create) return false;
    const next = applyChanges(structuredClone(record ?? emptyRecord(p.meta)), p.changes, p.meta);
    const size = Buffer.byteLength(JSON.stringify({ data: next.data, flash: next.flash }));
    if (size > maxSize) return { error: SessionTooLargeError.inStore(size, maxSize) };
    record = next;
    expiresAt = p.meta.expiresAt;
    return true;
  });
  return outcomes.includes(true) ? { outcomes, write: { ...record!, expiresAt } } : { outcomes };
}

/**
 * Applies change sets in order on what the session's file holds (`read`, under its lock), then writes
 * it once. Resolves to what each one gets (applied, refused, or an error), and the user the session
 * was bound to and no longer is (its entry is to leave that user's index).
 */
export async function applyToFile(
  pending: readonly ChangeSet[],
  maxSize: number,
  read: () => Promise<Stored | undefined>,
  writeFile: (stored: Stored) => Promise<void>,
): Promise<{ outcomes: Outcome[]; left?: string }> {
  const stored = await read();
  const { outcomes, write } = applyBatch(stored, pending, maxSize);
  if (write === undefined) return { outcomes };
  try {
    await writeFile(write);
  } catch (error) {
    return { outcomes: outcomes.map((outcome) => (outcome === true ? { error } : outcome)) };
  }
  const before = stored === undefined || 'retired' in stored ? undefined : stored.user?.id;
  const after = 'retired' in write ? undefined : write.user?.id;
  return { outcomes, left: before !== after ? before : undefined };
}

/** Per id, the change sets waiting for its lock. */
export class Batches {
  private readonly waiting = new Map<string, Pending[]>();

  /**
   * Queues a change set. The first one for an id starts `run`, which takes the batch once it holds
   * the lock (nothing joins it afterwards) and resolves to what each change set gets.
   */
  add(
    id: string,
    changes: SessionChanges,
    meta: SessionMeta,
    run: (take: () => Pending[]) => Promise<Outcome[]>,
  ): Promise<boolean> {
    let batch = this.waiting.get(id);
    if (batch === undefined) {
      const pending: Pending[] = [];
      batch = pending;
      this.waiting.set(id, pending);
      const close = () => {
        if (this.waiting.get(id) === pending) this.waiting.delete(id);
      };
      void run(() => (close(), pending)).then(
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
}
