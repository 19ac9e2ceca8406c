import { LRUCache } from 'lru-cache';
import { applyChanges, emptyRecord } from '../core/change-set.js';
import { positive } from '../core/option-checks.js';
import { SessionTooLargeError } from '../session.errors.js';
import type {
  PeekingSessionStore,
  SessionChanges,
  SessionMeta,
  SessionPeek,
  SessionUser,
  SessionRecord,
  UserIndexedSessionStore,
} from './session-store.js';
import { overLimit, type UserEntry } from './user-index.js';

/**
 * A record as it is kept: a JSON array is the smallest string that holds it (heap per session). The
 * creation time is kept as milliseconds after the store's epoch (when it was made) and the last
 * activity as milliseconds after creation: small whole numbers, which JSON reads and writes in a
 * fraction of what 13-digit timestamps (doubles to V8) cost, in fewer bytes. The timestamps come first and the flash before the data, so `peekNow` reads them off the string's
 * start without parsing it. The policy follows only when the session has one. The user is kept
 * beside it (Binding), not in it: it changes only at sign-in and sign-out, and would otherwise be
 * parsed and written again by every request of a signed-in session.
 */
type Packed = [
  since: number,
  activeFor: number,
  SessionRecord['flash'],
  SessionRecord['data'],
  SessionRecord['policy']?,
];

/** A bound session's user, frozen, and the bytes of its JSON (counted against maxSize and maxBytes). */
interface Binding {
  readonly user: Readonly<SessionUser>;
  readonly bytes: number;
}
/**
 * The number JSON wrote between `from` and `to`: whole numbers (the timestamps are) read digit by
 * digit, which costs a fraction of Number(json.slice(...)); anything else as Number reads it.
 */
function numberAt(json: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = json.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number(json.slice(from, to));
    n = n * 10 + digit;
  }
  return n;
}

/** What a retired id holds until its tombstone expires. */
const TOMBSTONE = 'R';

/** `forRoot({ memory })`. */
export interface MemoryDriverOptions {
  /** How many sessions (and tombstones) it keeps; least recently used go first. Default 10 000. */
  max?: number;
  /** How many bytes of JSON it keeps at most, ids included; least recently used go first. Default 64 MiB. */
  maxBytes?: number;
}

export const MEMORY_DEFAULTS = { max: 10_000, maxBytes: 64 * 1024 * 1024 } as const;

/** The memory driver's options with their defaults; a bound that cannot work is a start-up error. */
export function resolveMemoryOptions(input: MemoryDriverOptions = {}): Required<MemoryDriverOptions> {
  const resolved = {
    max: input.max ?? MEMORY_DEFAULTS.max,
    maxBytes: input.maxBytes ?? MEMORY_DEFAULTS.maxBytes,
  };
  positive('memory.max', resolved.max, 'a positive number');
  positive('memory.maxBytes', resolved.maxBytes, 'a positive number of bytes');
  return resolved;
}

export interface MemoryStoreOptions {
  /** How many sessions (and tombstones) it keeps; least recently used go first. */
  max: number;
  /** How many bytes of JSON it keeps at most, ids included; least recently used go first. */
  maxBytes?: number;
  /** Bytes of one session's JSON past which a change is refused (SESSION_TOO_LARGE). */
  maxSize?: number;
  /** Told how many expired entries each prune() that dropped some dropped. */
  pruned?: (count: number) => void;
}

/**
 * One process's sessions in an LRU bounded by count and by bytes, each entry a JSON string with its
 * own TTL. No timer per entry and nothing that keeps the process alive: expired entries are never
 * returned and are dropped when touched or pushed out. Every operation is synchronous, so a change
 * set is atomic, and the driver calls the synchronous methods (SynchronousSessionStore): a request
 * on this store awaits no promise.
 */
export class MemoryStore implements PeekingSessionStore, UserIndexedSessionStore {
  private readonly cache: LRUCache<string, string>;
  /** The user index: user id -> that user's sessions (id -> entry); only bound sessions are in it. */
  private readonly users = new Map<string, Map<string, UserEntry>>();
  /** Session id -> its user, for the bound sessions: the index follows the cache's evictions. */
  private readonly owners = new Map<string, Binding>();
  private readonly maxSize: number;
  private readonly maxBytes: number;
  private readonly pruned: ((count: number) => void) | undefined;
  /** What the kept creation times count from (see Packed): a whole number of ms, so the sums stay exact. */
  private readonly epoch: number;

  constructor(
    options: MemoryStoreOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxSize = options.maxSize ?? Infinity;
    this.pruned = options.pruned;
    this.maxBytes = options.maxBytes ?? Infinity;
    this.epoch = Math.floor(now());
    this.cache = new LRUCache<string, string>({
      max: options.max,
      ...(options.maxBytes === undefined
        ? {}
        : {
            maxSize: options.maxBytes,
            sizeCalculation: (value, key) => Buffer.byteLength(value) + key.length,
          }),
      ttlAutopurge: false,
      ttlResolution: 0,
      perf: { now },
      // An entry that leaves the cache (evicted, expired, deleted) leaves the user index with it.
      noDisposeOnSet: true,
      dispose: (_value, id) => this.unindex(id),
    });
  }

  get size(): number {
    return this.cache.size;
  }

  /** Bytes of JSON (UTF-8) held, ids included (when bounded by maxBytes). */
  get bytes(): number {
    return this.cache.calculatedSize;
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    return this.getNow(id);
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    return this.applyNow(id, changes, meta);
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    return this.retireNow(id, until);
  }

  async destroy(id: string): Promise<void> {
    this.destroyNow(id);
  }

  getNow(id: string): SessionRecord | 'retired' | undefined {
    const json = this.cache.get(id);
    if (json === undefined) return undefined;
    if (json === TOMBSTONE) return 'retired';
    const [since, activeFor, flash, data, policy] = JSON.parse(json) as Packed;
    const createdAt = this.epoch + since;
    const record: SessionRecord = { data, flash, createdAt, lastActivity: createdAt + activeFor };
    const binding = this.owners.get(id);
    if (binding !== undefined) record.user = binding.user;
    if (policy !== undefined) record.policy = policy;
    return record;
  }

  /** The last activity and whether there is flash, read off the kept string's start (see Packed). */
  peekNow(id: string): SessionPeek | 'retired' | undefined {
    const json = this.cache.get(id);
    if (json === undefined) return undefined;
    if (json === TOMBSTONE) return 'retired';
    const first = json.indexOf(',');
    const second = json.indexOf(',', first + 1);
    return {
      lastActivity: this.epoch + numberAt(json, 1, first) + numberAt(json, first + 1, second),
      hasFlash: !json.startsWith('{}', second + 1),
    };
  }

  applyNow(id: string, changes: SessionChanges, meta: SessionMeta): boolean {
    const current = this.getNow(id);
    if (current === 'retired' || (current === undefined && !meta.create)) return false;
    const record = applyChanges(current ?? emptyRecord(meta), changes, meta);
    const packed: Packed = [
      record.createdAt - this.epoch,
      record.lastActivity - record.createdAt,
      record.flash,
      record.data,
    ];
    if (record.policy !== undefined) packed.push(record.policy);
    const json = JSON.stringify(packed);
    const user = record.user;
    let binding = user === undefined ? undefined : this.owners.get(id);
    if (user !== undefined && binding?.user !== user)
      binding = { user: Object.freeze({ ...user }), bytes: Buffer.byteLength(JSON.stringify(user)) };
    // Bytes of UTF-8, as every store counts maxSize (a string's length counts UTF-16 units).
    const bytes = Buffer.byteLength(json) + (binding?.bytes ?? 0);
    if (bytes > this.maxSize) throw SessionTooLargeError.inStore(bytes, this.maxSize);
    // An entry bigger than maxBytes would be dropped by the cache at once: an acknowledged loss.
    const size = bytes + id.length;
    if (size > this.maxBytes) throw SessionTooLargeError.inStore(size, this.maxBytes);
    const revoked = user !== undefined && changes.user ? this.makeRoom(id, user.id, meta) : [];
    const ttl = Math.max(1, meta.expiresAt - meta.lastActivity);
    // The cache keeps an entry's size when its string is the same: a new binding replaces the entry.
    if (current !== undefined && binding !== this.owners.get(id)) this.cache.delete(id);
    this.cache.set(id, json, this.maxBytes === Infinity ? { ttl } : { ttl, size });
    for (const entry of revoked) this.retireNow(entry.id, meta.limit!.until);
    if (user === undefined) this.unindex(id);
    else this.index(id, { id, signedInAt: user.signedInAt, expiresAt: meta.expiresAt }, binding!);
    return true;
  }

  async listUser(userId: string): Promise<Array<{ id: string; record: SessionRecord }>> {
    const found: Array<{ id: string; record: SessionRecord }> = [];
    for (const entry of this.liveEntries(userId)) {
      const record = this.getNow(entry.id);
      if (record !== undefined && record !== 'retired' && record.user?.id === userId)
        found.push({ id: entry.id, record });
    }
    return found;
  }

  /** The user's other live sessions a new binding must retire (checked before anything is written). */
  private makeRoom(id: string, userId: string, meta: SessionMeta): UserEntry[] {
    const replaced = meta.limit?.replaces;
    const others = this.liveEntries(userId).filter((entry) => entry.id !== id && entry.id !== replaced);
    const revoked = overLimit(others, meta.limit);
    meta.limit?.revoked.push(...revoked.map((entry) => entry.id));
    return revoked;
  }

  /** The user's entries that have not expired; the expired ones are dropped. */
  private liveEntries(userId: string): UserEntry[] {
    const entries = this.users.get(userId);
    if (entries === undefined) return [];
    const now = this.now();
    for (const [id, entry] of entries) if (entry.expiresAt <= now || !this.cache.has(id)) this.unindex(id);
    return [...entries.values()];
  }

  private index(id: string, entry: UserEntry, binding: Binding): void {
    const userId = binding.user.id;
    const owner = this.owners.get(id);
    if (owner !== undefined && owner.user.id !== userId) this.unindex(id);
    let entries = this.users.get(userId);
    if (entries === undefined) this.users.set(userId, (entries = new Map()));
    entries.set(id, entry);
    this.owners.set(id, binding);
  }

  private unindex(id: string): void {
    const owner = this.owners.get(id)?.user.id;
    if (owner === undefined) return;
    this.owners.delete(id);
    const entries = this.users.get(owner);
    entries?.delete(id);
    if (entries?.size === 0) this.users.delete(owner);
  }

  retireNow(id: string, until: number): SessionRecord | undefined {
    const current = this.getNow(id);
    if (current === undefined || current === 'retired') return undefined;
    this.cache.set(id, TOMBSTONE, { ttl: Math.max(1, until - this.now()) });
    this.unindex(id);
    return current;
  }

  destroyNow(id: string): void {
    this.cache.delete(id);
  }

  async prune(): Promise<number> {
    const before = this.cache.size;
    this.cache.purgeStale();
    const count = before - this.cache.size;
    if (count > 0) this.pruned?.(count);
    return count;
  }
}
