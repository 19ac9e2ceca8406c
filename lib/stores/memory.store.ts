import { LRUCache } from 'lru-cache';
import { applyChanges, emptyRecord } from '../core/change-set.js';
import { positive } from '../core/option-checks.js';
import { SessionTooLargeError } from '../session.errors.js';
import type { SessionChanges, SessionMeta, SessionRecord, SynchronousSessionStore } from './session-store.js';

/**
 * A record as it is kept: a JSON array is the smallest string that holds it (heap per session), and
 * the last activity is kept as milliseconds after creation (0 for a new session, not 13 digits).
 */
type Packed = [SessionRecord['data'], SessionRecord['flash'], number, number];
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
}

/**
 * One process's sessions in an LRU bounded by count and by bytes, each entry a JSON string with its
 * own TTL. No timer per entry and nothing that keeps the process alive: expired entries are never
 * returned and are dropped when touched or pushed out. Every operation is synchronous, so a change
 * set is atomic, and the driver calls the synchronous methods (SynchronousSessionStore): a request
 * on this store awaits no promise.
 */
export class MemoryStore implements SynchronousSessionStore {
  private readonly cache: LRUCache<string, string>;
  private readonly maxSize: number;
  private readonly maxBytes: number;

  constructor(
    options: MemoryStoreOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxSize = options.maxSize ?? Infinity;
    this.maxBytes = options.maxBytes ?? Infinity;
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
    const [data, flash, createdAt, activeFor] = JSON.parse(json) as Packed;
    return { data, flash, createdAt, lastActivity: createdAt + activeFor };
  }

  applyNow(id: string, changes: SessionChanges, meta: SessionMeta): boolean {
    const current = this.getNow(id);
    if (current === 'retired' || (current === undefined && !meta.create)) return false;
    const record = applyChanges(current ?? emptyRecord(meta), changes, meta);
    const packed: Packed = [
      record.data,
      record.flash,
      record.createdAt,
      record.lastActivity - record.createdAt,
    ];
    const json = JSON.stringify(packed);
    // Bytes of UTF-8, as every store counts maxSize (a string's length counts UTF-16 units).
    const bytes = Buffer.byteLength(json);
    if (bytes > this.maxSize) throw SessionTooLargeError.inStore(bytes, this.maxSize);
    // An entry bigger than maxBytes would be dropped by the cache at once: an acknowledged loss.
    const size = bytes + id.length;
    if (size > this.maxBytes) throw SessionTooLargeError.inStore(size, this.maxBytes);
    this.cache.set(id, json, {
      ttl: Math.max(1, meta.expiresAt - meta.lastActivity),
      ...(this.maxBytes === Infinity ? {} : { size }),
    });
    return true;
  }

  retireNow(id: string, until: number): SessionRecord | undefined {
    const current = this.getNow(id);
    if (current === undefined || current === 'retired') return undefined;
    this.cache.set(id, TOMBSTONE, { ttl: Math.max(1, until - this.now()) });
    return current;
  }

  destroyNow(id: string): void {
    this.cache.delete(id);
  }

  async prune(): Promise<number> {
    const before = this.cache.size;
    this.cache.purgeStale();
    return before - this.cache.size;
  }
}
