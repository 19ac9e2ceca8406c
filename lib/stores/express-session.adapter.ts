/**
 * Any express-session store as a nest-session store: `fromExpressSessionStore(store)` for
 * `SessionManager.extend()`. For the stores nest-session has no driver for (connect-mongo,
 * connect-dynamodb, ...), or to keep the store an app already runs.
 *
 * What the store holds under an id is an express-session record: `{ cookie, nestSession }`. `cookie`
 * carries `expires` and `maxAge` as express-session's Cookie does, so the store's own expiry (a Redis
 * TTL, a MongoDB TTL index, a table's expire column, an LRU's maxAge) drops the record when the
 * session ends; `nestSession` is the record as JSON (a string: the store never sees the keys, so
 * `__proto__` or `$where` are ordinary keys, and a store that keeps objects by reference hands back
 * no object a request could change). A retired id holds a tombstone that expires with it.
 *
 * Such a store only writes whole records, so apply() reads, merges and writes. Within one process
 * the adapter runs the operations on an id one after another, so change sets stay atomic and a
 * retired id stays dead; across processes sharing the store, two overlapping writes to one session
 * can lose each other's keys (as with express-session itself), and a write overlapping a
 * regenerate() or destroy() can overwrite the tombstone.
 *
 * `touch()` is not called: the stores' touch moves only their own expiry, not the last activity the
 * idle timeout is read from, so a touch (at most one per 1% of idleTimeout) is a whole write.
 */
import { isBag } from '../core/json-value.js';
import { SessionConfigError, SessionTooLargeError } from '../session.errors.js';
import { callStore, getSession, hasFunctions, type ExpressSessionStore } from './express-session.store.js';
import {
  applyChanges,
  emptyRecord,
  type SessionChanges,
  type SessionMeta,
  type SessionRecord,
  type SessionStore,
} from './session-store.js';

/** The field of the express-session record that holds nest-session's, as JSON. */
export const RECORD_FIELD = 'nestSession';

/** nestSession's JSON: a live record, or a tombstone. */
type Kept =
  | {
      v: 1;
      data: Record<string, unknown>;
      flash: Record<string, unknown>;
      createdAt: number;
      lastActivity: number;
      expiresAt: number;
    }
  | { v: 1; retiredUntil: number };

export interface ExpressSessionAdapterOptions {
  /** Bytes of one session's JSON (data and flash) past which a change is refused. Default: no limit. */
  maxSize?: number;
  /** The clock (ms since the epoch) the records' timestamps are read from. Default Date.now. */
  now?: () => number;
}

export class ExpressSessionStoreAdapter implements SessionStore {
  /**
   * Optional power, present when the store can list its sessions (`all`): removes the records and
   * tombstones whose time has passed and resolves to how many went. Those the store's own expiry
   * dropped first are not counted. Without `all`, the store's own expiry is the only sweep.
   */
  readonly prune?: () => Promise<number>;
  private readonly maxSize: number;
  private readonly now: () => number;
  /** The operation last queued on each id: the next one waits for it. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: ExpressSessionStore,
    options: ExpressSessionAdapterOptions = {},
  ) {
    this.maxSize = options.maxSize ?? Infinity;
    this.now = options.now ?? (() => Date.now());
    if (hasFunctions(store, 'all')) this.prune = () => this.sweep();
  }

  get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    return this.read(id);
  }

  apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    return this.serial(id, async () => {
      const current = await this.read(id);
      if (current === 'retired' || (current === undefined && !meta.create)) return false;
      const record = applyChanges(current ?? emptyRecord(meta), changes, meta);
      const size = Buffer.byteLength(JSON.stringify({ data: record.data, flash: record.flash }));
      if (size > this.maxSize) throw SessionTooLargeError.inStore(size, this.maxSize);
      await this.write(id, { v: 1, ...record, expiresAt: meta.expiresAt }, meta.expiresAt);
      return true;
    });
  }

  retire(id: string, until: number): Promise<SessionRecord | undefined> {
    return this.serial(id, async () => {
      const current = await this.read(id);
      if (current === undefined || current === 'retired') return undefined;
      await this.write(id, { v: 1, retiredUntil: until }, until);
      return current;
    });
  }

  destroy(id: string): Promise<void> {
    return this.serial(id, async () => {
      await callStore(this.store, 'destroy', [id]);
    });
  }

  private async read(id: string): Promise<SessionRecord | 'retired' | undefined> {
    return this.decode(await getSession(this.store, id));
  }

  /** The record in an express-session record; undefined for anything else (expired, foreign, malformed). */
  private decode(session: unknown): SessionRecord | 'retired' | undefined {
    const kept = parseKept(session);
    if (kept === undefined) return undefined;
    const now = this.now();
    if ('retiredUntil' in kept) return kept.retiredUntil > now ? 'retired' : undefined;
    if (kept.expiresAt <= now) return undefined;
    return {
      data: kept.data,
      flash: kept.flash,
      createdAt: kept.createdAt,
      lastActivity: kept.lastActivity,
    };
  }

  /** Writes an express-session record whose cookie expires when `expiresAt` comes. */
  private async write(id: string, kept: Kept, expiresAt: number): Promise<void> {
    const ttl = Math.max(1, expiresAt - this.now());
    // The store measures its expiry on the wall clock, whatever clock the records are read with.
    const cookie = { originalMaxAge: ttl, maxAge: ttl, expires: new Date(Date.now() + ttl), path: '/' };
    await callStore(this.store, 'set', [id, { cookie, [RECORD_FIELD]: JSON.stringify(kept) }]);
  }

  private async sweep(): Promise<number> {
    const listed = await callStore<unknown>(this.store, 'all', []);
    let count = 0;
    for (const [id, session] of listedSessions(listed)) {
      const kept = parseKept(session);
      if (kept === undefined) continue; // not one of ours: an old app's session, say
      if (this.decode(session) !== undefined) continue;
      await this.destroy(id);
      count++;
    }
    return count;
  }

  /** Runs `work` once every operation queued before it on `id` has settled. */
  private serial<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id);
    const run = previous === undefined ? work() : previous.then(work, work);
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
}

function parseKept(session: unknown): Kept | undefined {
  const json = isBag(session) ? session[RECORD_FIELD] : undefined;
  if (typeof json !== 'string') return undefined;
  let kept: unknown;
  try {
    kept = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isBag(kept) || kept.v !== 1) return undefined;
  if (typeof kept.retiredUntil === 'number') return kept as Kept;
  const { data, flash, createdAt, lastActivity, expiresAt } = kept;
  const times = [createdAt, lastActivity, expiresAt];
  if (!isBag(data) || !isBag(flash) || !times.every((t) => typeof t === 'number')) return undefined;
  return kept as Kept;
}

/** `all()`'s answer as [id, session] pairs: stores answer `{ id: session }`, `[session with id]` or rows. */
function listedSessions(listed: unknown): Array<[string, unknown]> {
  if (Array.isArray(listed)) {
    const pairs: Array<[string, unknown]> = [];
    for (const item of listed) {
      if (!isBag(item)) continue;
      const id = typeof item.id === 'string' ? item.id : item.sid;
      if (typeof id !== 'string') continue;
      let session: unknown = item.sess ?? item;
      if (typeof session === 'string') {
        try {
          session = JSON.parse(session);
        } catch {
          continue;
        }
      }
      pairs.push([id, session]);
    }
    return pairs;
  }
  return isBag(listed) ? Object.entries(listed) : [];
}

/**
 * Any express-session store as a driver: `sessions.extend('mongo', fromExpressSessionStore(store))`.
 * The store is the app's: nest-session never closes it.
 */
export function fromExpressSessionStore(
  store: ExpressSessionStore,
): (options: { maxSize: number; clock: () => number }) => SessionStore {
  if (!hasFunctions(store, 'get', 'set', 'destroy')) {
    throw new SessionConfigError(
      'SESSION_STORE_INVALID',
      'fromExpressSessionStore() needs an express-session store: an object with get(id, callback), ' +
        'set(id, session, callback) and destroy(id, callback), such as new MongoStore({ ... })',
    );
  }
  return (options) => new ExpressSessionStoreAdapter(store, { maxSize: options.maxSize, now: options.clock });
}
