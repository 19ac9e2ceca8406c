import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import {
  SessionManager,
  SessionTooLargeError,
  applyChanges,
  type SessionChanges,
  type SessionStoreFactory,
  type SessionMeta,
  type SessionRecord,
  type SessionStore,
} from 'nest-session';

/**
 * A custom store as a user would write one: a Map of JSON strings ('retired' for a tombstone),
 * change sets merged with applyChanges, maxSize (the factory's options.maxSize; 512 KiB, the
 * default) checked on the JSON it writes.
 */
export class MapStore implements SessionStore {
  readonly rows = new Map<string, { json: string; expiresAt: number; create: true }>();
  constructor(private readonly maxSize = 512 * 1024) {}
  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    return this.read(id);
  }
  /** Read and write with no await between them: that is what makes apply() atomic here. */
  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    const current = this.read(id);
    if (current === 'retired' || (current === undefined && !meta.create)) return false;
    const record = applyChanges(current ?? emptyRecord(meta), changes, meta);
    const json = JSON.stringify(record);
    const size = Buffer.byteLength(JSON.stringify({ data: record.data, flash: record.flash }));
    if (size > this.maxSize) throw SessionTooLargeError.inStore(size, this.maxSize);
    this.rows.set(id, { json, expiresAt: meta.expiresAt, create: true });
    return true;
  }
  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    const current = this.read(id);
    if (current === undefined || current === 'retired') return undefined;
    this.rows.set(id, { json: '"retired"', expiresAt: until, create: true });
    return current;
  }
  async destroy(id: string): Promise<void> {
    this.rows.delete(id);
  }
  protected read(id: string): SessionRecord | 'retired' | undefined {
    const row = this.rows.get(id);
    if (row === undefined || row.expiresAt <= Date.now()) return undefined;
    return JSON.parse(row.json) as SessionRecord | 'retired';
  }
}

function emptyRecord(meta: SessionMeta): SessionRecord {
  return { data: {}, flash: {}, createdAt: meta.createdAt, lastActivity: 0 };
}

/**
 * The naive store the change sets exist to avoid: it writes the whole session the request saw (read at
 * load, written at commit), so overlapping requests overwrite each other.
 */
export class WholeRecordStore extends MapStore {
  private readonly seen = new Map<string, SessionRecord>();
  override async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    const record = await super.get(id);
    if (record && record !== 'retired') this.seen.set(id, record);
    return record;
  }
  override async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    const base = structuredClone(this.seen.get(id)) ?? emptyRecord(meta);
    this.rows.set(id, {
      json: JSON.stringify(applyChanges(base, changes, meta)),
      expiresAt: meta.expiresAt,
      create: true,
    });
    return true;
  }
}

/** A store that can be switched off, as a database that goes down and comes back. */
export class SwitchableStore extends MapStore {
  up = true;
  private check(): void {
    if (!this.up) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
  }
  override async get(id: string) {
    this.check();
    return super.get(id);
  }
  override async apply(id: string, changes: SessionChanges, meta: SessionMeta) {
    this.check();
    return super.apply(id, changes, meta);
  }
}

/** A store whose next write waits until the test lets it finish or fail: a slow database, on demand. */
export class HeldStore extends MapStore {
  private next: { arrived: () => void; outcome: Promise<void> } | undefined;
  /** Holds the next apply(); `applying` settles once it has been called. */
  hold() {
    let arrived!: () => void;
    let finish!: (error?: Error) => void;
    const applying = new Promise<void>((resolve) => (arrived = resolve));
    const outcome = new Promise<void>((resolve, reject) => {
      finish = (error) => (error ? reject(error) : resolve());
    });
    this.next = { arrived, outcome };
    return { applying, release: () => finish(), fail: (error: Error) => finish(error) };
  }
  override async apply(id: string, changes: SessionChanges, meta: SessionMeta) {
    const held = this.next;
    this.next = undefined;
    if (held) {
      held.arrived();
      await held.outcome;
    }
    return super.apply(id, changes, meta);
  }
}

/** Registers `store` under `name` the way an app does: SessionManager.extend() in onModuleInit. */
export function extendModule(name: string, store: SessionStoreFactory) {
  @Injectable()
  class Registrar implements OnModuleInit {
    constructor(private readonly sessions: SessionManager) {}
    onModuleInit() {
      this.sessions.extend(name, store);
    }
  }
  @Module({ providers: [Registrar] })
  class ExtendModule {}
  return ExtendModule;
}
