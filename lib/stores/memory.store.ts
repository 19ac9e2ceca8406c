import { LRUCache } from 'lru-cache';
import {
  applyChanges,
  emptyRecord,
  type SessionChanges,
  type SessionMeta,
  type SessionRecord,
  type SynchronousSessionStore,
} from './session-store.js';

/** A record as it is kept: a JSON array is the smallest string that holds it (heap per session). */
type Packed = [SessionRecord['data'], SessionRecord['flash'], number, number];

/**
 * One process's sessions in an LRU bounded by count, each entry a JSON string with its own TTL.
 * No timer per entry and nothing that keeps the process alive: expired entries are never returned
 * and are dropped when touched or pushed out. A change set is applied synchronously, so it is atomic;
 * the driver uses the synchronous methods (SynchronousSessionStore), so a request on this store awaits no promise.
 */
export class MemoryStore implements SynchronousSessionStore {
  private readonly cache: LRUCache<string, string>;

  constructor(options: { max: number }, now: () => number = Date.now) {
    this.cache = new LRUCache<string, string>({
      max: options.max,
      ttlAutopurge: false,
      ttlResolution: 0,
      perf: { now },
    });
  }

  get size(): number {
    return this.cache.size;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.getNow(id);
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<void> {
    this.applyNow(id, changes, meta);
  }

  async destroy(id: string): Promise<void> {
    this.destroyNow(id);
  }

  /** apply(), synchronously: the driver uses it so a request waits on no promise. */
  applyNow(id: string, changes: SessionChanges, meta: SessionMeta): void {
    const record = applyChanges(this.getNow(id) ?? emptyRecord(meta), changes, meta);
    const ttl = Math.max(1, meta.expiresAt - meta.lastActivity);
    const packed: Packed = [record.data, record.flash, record.createdAt, record.lastActivity];
    this.cache.set(id, JSON.stringify(packed), { ttl });
  }

  destroyNow(id: string): void {
    this.cache.delete(id);
  }

  async prune(): Promise<number> {
    const before = this.cache.size;
    this.cache.purgeStale();
    return before - this.cache.size;
  }

  /** get(), synchronously. */
  getNow(id: string): SessionRecord | undefined {
    const json = this.cache.get(id);
    if (json === undefined) return undefined;
    const [data, flash, createdAt, lastActivity] = JSON.parse(json) as Packed;
    return { data, flash, createdAt, lastActivity };
  }
}
