/**
 * A user's revocation record as read (UserRecordView) and as one write changes it (RecordChange): the
 * layout revocation-record.ts describes.
 */
import { isBag, keyBag } from '../core/json-value.js';
import type { Timeouts } from '../core/expiry.js';
import type { Keyring } from '../crypto/keyring.js';

/** One session of the user, as the record keeps it. */
export interface KnownSession {
  /** Its id (inside its sealed cookie). */
  i: string;
  /** When it was signed in (the seal's). */
  t: number;
  /** When it was created: its lifetime counts from it. */
  c: number;
  /** When the record first kept it: revokeAll() revokes what it kept before. */
  w: number;
  /** Last seen: the last time the record was written for it. */
  a: number;
  /** When the entry goes: its lifetime's end, or its idle end as far as the record knows. */
  e: number;
  p?: string;
  l?: string;
  ua?: string;
  ip?: string;
}

/** users.maxPerUser and onLimit. */
export interface RecordLimit {
  max: number;
  onLimit: 'revoke-oldest' | 'reject';
}

export type Maybe<T> = T | Promise<T>;

/** How stale a session's last-seen time may get before a request that sends its cookie writes it again. */
export function seenInterval(t: Timeouts): number {
  return Math.max(1_000, t.idleTimeout / 10);
}

/**
 * A session's entry expiry: its lifetime's end, or its idle end after the last-seen time plus the
 * interval at which that time is written, whichever comes first: never before the session ends.
 */
export function entryExpiry(t: Timeouts, createdAt: number, seenAt: number): number {
  return Math.min(createdAt + t.lifetime, seenAt + t.idleTimeout + seenInterval(t));
}

/** A user's record as read: its parts (one per secret, current first), merged. */
export class UserRecordView {
  /** Sessions the record kept before this time are revoked (revokeAll()); 0: none. */
  readonly notBefore: number;
  private readonly known = new Map<string, KnownSession>();
  /** The sessions the current record (under the current secret) keeps. */
  private readonly current = new Set<string>();
  /** Per part: the handles revoked. */
  private readonly revocations: Array<Set<string>>;
  private usable: KnownSession[] | undefined;

  constructor(
    readonly ids: string[],
    private readonly data: Array<Record<string, unknown>>,
    private readonly handles: (id: string) => string[],
    readonly now: number,
    private readonly limit: RecordLimit,
  ) {
    this.revocations = data.map(() => new Set());
    let notBefore = 0;
    data.forEach((part, k) => {
      for (const [key, value] of Object.entries(part)) {
        const kind = key.slice(0, 2);
        if (kind === 's:' && isKnown(value) && value.e > now) {
          const seen = this.known.get(value.i);
          if (seen === undefined || seen.a < value.a) this.known.set(value.i, value);
          if (k === 0) this.current.add(value.i);
        } else if (kind === 'r:' && typeof value === 'number' && value > now) {
          this.revocations[k].add(key.slice(2));
        } else if (kind === 'n:' && typeof value === 'number' && value > now) {
          notBefore = Math.max(notBefore, Number(key.slice(2)) || 0);
        }
      }
    });
    this.notBefore = notBefore;
  }

  /** Whether a revocation names the session, under any secret. */
  revoked(id: string): boolean {
    return this.handles(id).some((handle, k) => this.revocations[k]?.has(handle) === true);
  }

  /**
   * The sessions that may be used: kept, not revoked, kept since "not before", and within
   * users.maxPerUser (the earliest sign-ins with 'reject', the latest with 'revoke-oldest'), so two
   * sign-ins that raced past the limit still leave no more usable than it allows.
   */
  live(): KnownSession[] {
    if (this.usable !== undefined) return this.usable;
    const kept = [...this.known.values()]
      .filter((s) => s.w >= this.notBefore && !this.revoked(s.i))
      .sort((a, b) => a.t - b.t || (a.i < b.i ? -1 : 1));
    const { max, onLimit } = this.limit;
    const over = kept.length - max;
    if (over > 0) kept.splice(onLimit === 'reject' ? max : 0, over);
    return (this.usable = kept);
  }

  /** Whether the current record keeps the session (else only a record under an older secret does). */
  inCurrent(id: string): boolean {
    return this.current.has(id);
  }

  find(id: string): KnownSession | undefined {
    return this.live().find((s) => s.i === id);
  }

  /** The current record's keys whose time has passed (or whose session is revoked), and the latest expiry of the rest. */
  prune(): { deleted: string[]; latest: number } {
    const deleted: string[] = [];
    let latest = 0;
    for (const [key, value] of Object.entries(this.data[0])) {
      const kind = key.slice(0, 2);
      let until = 0;
      if (kind === 's:' && isKnown(value)) {
        if (value.w >= this.notBefore && !this.revoked(value.i)) until = value.e;
      } else if ((kind === 'r:' || kind === 'n:') && typeof value === 'number') {
        until = value;
      }
      if (until > this.now) latest = Math.max(latest, until);
      else deleted.push(key);
    }
    return { deleted, latest };
  }
}

/** The keys one write sets and deletes in the current record, and the latest expiry it sets. */
export class RecordChange {
  readonly set = keyBag();
  readonly deleted: string[] = [];
  latest = 0;

  constructor(private readonly keyring: Keyring) {}

  get empty(): boolean {
    return this.deleted.length === 0 && Object.keys(this.set).length === 0;
  }

  put(key: string, value: unknown, until = value as number): this {
    this.set[key] = value;
    this.latest = Math.max(this.latest, until);
    return this;
  }

  add(session: KnownSession): this {
    return this.put(`s:${this.keyring.handle(session.i)}`, session, session.e);
  }

  revoke(session: KnownSession, until: number): this {
    const handle = this.keyring.handle(session.i);
    this.deleted.push(`s:${handle}`);
    return this.put(`r:${handle}`, until);
  }
}

function isKnown(value: unknown): value is KnownSession {
  return (
    isBag(value) &&
    typeof value.i === 'string' &&
    ['t', 'c', 'w', 'a', 'e'].every((key) => typeof value[key] === 'number')
  );
}

/** Chains a step onto work that may have been done at once (not `then`: see drivers/store-work.ts). */
export function afterWork<T, R>(value: Maybe<T>, next: (value: T) => Maybe<R>): Maybe<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
