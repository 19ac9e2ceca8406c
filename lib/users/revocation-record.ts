/**
 * The cookie driver's revocation record: one small record per user, kept through the store contract
 * in the store of the driver `users.revocationStore` names, that makes sealed-cookie sessions
 * listable and revocable. Its data, every value carrying when it may go (ms since the epoch):
 *
 *   's:<handle>'  a session the user signed in (KnownSession): a session it does not know is not signed in
 *   'r:<handle>'  a revocation, until the session's lifetime ends
 *   'n:<time>'    "not before" (revokeAll() at that time): sessions recorded earlier are revoked; until
 *                 that time plus the longest lifetime of any policy
 *
 * It is named by keyring.userRecordIds(userId), one id per secret: written under the current one,
 * read under each, so rotating the secret keeps every sign-in and revocation. A handle is the one
 * keyring.handles() gives under that record's secret. Each write is one change set (atomic on every
 * store) that also drops the entries whose time has passed; the record's own expiry is its latest
 * entry's. The decisions around a write (the user's limit) are read-then-write: see RevocationRecords.
 */
import type { Policies } from '../core/policies.js';
import type { Keyring } from '../crypto/keyring.js';
import { SessionConfigError, SessionUserLimitError } from '../session.errors.js';
import type { SessionDriver } from '../drivers/session-driver.js';
import {
  isSynchronous,
  type SessionChanges,
  type SessionRecord,
  type SessionStore,
  type SynchronousSessionStore,
} from '../stores/session-store.js';
import {
  RecordChange,
  UserRecordView,
  afterWork,
  type KnownSession,
  type Maybe,
  type RecordLimit,
} from './revocation-view.js';
import { usersUnsupported } from './session-registry.js';

export {
  entryExpiry,
  seenInterval,
  type KnownSession,
  type RecordLimit,
  type UserRecordView,
} from './revocation-view.js';

/** What one commit changes in a user's record. */
export interface RecordUpdate {
  /** A session to keep, or to keep again (sign-in, regenerate, a new policy, last seen). */
  add?: KnownSession;
  /** `add` is a sign-in: users.maxPerUser applies to it. */
  signIn?: boolean;
  /** Sessions to revoke (sign-out, regenerate, a sign-in over them). */
  revoke?: KnownSession[];
}

const NOTHING: SessionChanges = {
  clearData: false,
  clearFlash: false,
  set: {},
  deleted: [],
  flash: {},
  flashCleared: {},
};

/**
 * The records of every user, in one store. Every operation is one read (one per secret) and, to
 * change something, one atomic change set to the current record. On a store that works
 * synchronously (memory) nothing can come between them. On the others, two writes of one user may
 * overlap: each change set keeps its own keys (atomic), and what a write decided from its read is
 * checked after it (settle()): the record's expiry, and whether a sign-in is still within the limit.
 */
export class RevocationRecords {
  private readonly sync: SynchronousSessionStore | undefined;
  /** The longest lifetime of any policy: how long "not before" must be kept. */
  private readonly longest: number;

  constructor(
    readonly store: SessionStore,
    private readonly keyring: Keyring,
    private readonly policies: Policies,
    private readonly limit: RecordLimit,
    private readonly clock: () => number,
  ) {
    this.sync = isSynchronous(store) ? store : undefined;
    this.longest = Math.max(policies.base.lifetime, ...policies.names().map((n) => policies.of(n).lifetime));
  }

  /** The user's record, merged from its parts. */
  read(userId: string, now: number): Maybe<UserRecordView> {
    const ids = this.keyring.userRecordIds(userId);
    const view = (records: Array<SessionRecord | 'retired' | undefined>) =>
      new UserRecordView(
        ids,
        records.map((r) => (r === undefined || r === 'retired' ? {} : r.data)),
        (id) => this.keyring.handles(id),
        now,
        this.limit,
      );
    const sync = this.sync;
    if (sync !== undefined) return view(ids.map((id) => sync.getNow(id)));
    return Promise.all(ids.map((id) => this.store.get(id))).then(view);
  }

  /** A commit's change: its sessions kept and revoked; a sign-in past the limit revokes or is refused (SessionUserLimitError). */
  commit(userId: string, now: number, update: RecordUpdate): Maybe<void> {
    return afterWork(this.read(userId, now), (view) => {
      const change = new RecordChange(this.keyring);
      const revoke = update.revoke ?? [];
      for (const session of revoke) change.revoke(session, this.lifetimeEnd(session));
      const add = update.add;
      if (add !== undefined) {
        if (update.signIn) {
          const gone = new Set([add.i, ...revoke.map((s) => s.i)]);
          const others = view.live().filter((s) => !gone.has(s.i));
          for (const s of this.overLimit(others)) change.revoke(s, this.lifetimeEnd(s));
        }
        change.add(add);
      }
      const checked = update.signIn && this.limit.onLimit === 'reject' ? add : undefined;
      return afterWork(this.write(view, change), (expiry) => this.settle(userId, now, expiry, checked));
    });
  }

  /** Revokes one of the user's usable sessions; false when it was none. */
  revoke(userId: string, id: string, now: number): Maybe<boolean> {
    return afterWork(this.read(userId, now), (view) => {
      const session = view.find(id);
      if (session === undefined) return false;
      const change = new RecordChange(this.keyring).revoke(session, this.lifetimeEnd(session));
      return afterWork(this.write(view, change), (expiry) =>
        afterWork(this.settle(userId, now, expiry), () => true),
      );
    });
  }

  /**
   * Revokes every session of the user: each one the record lists, and, with "not before" set to now,
   * any it kept earlier that this read did not see. How many usable ones went.
   */
  revokeAll(userId: string, now: number): Maybe<number> {
    return afterWork(this.read(userId, now), (view) => {
      const live = view.live();
      const change = new RecordChange(this.keyring);
      for (const session of live) change.revoke(session, this.lifetimeEnd(session));
      const at = this.clock();
      change.put(`n:${at}`, at + this.longest);
      return afterWork(this.write(view, change), (expiry) =>
        afterWork(this.settle(userId, now, expiry), () => live.length),
      );
    });
  }

  /** When the record first kept a session (for "not before"): the write's own time, not the request's. */
  writtenAt(): number {
    return this.clock();
  }

  private lifetimeEnd(session: KnownSession): number {
    return session.c + this.policies.of(session.p).lifetime;
  }

  /** The sessions a sign-in must revoke to fit users.maxPerUser, earliest sign-ins first; refused with 'reject'. */
  private overLimit(others: KnownSession[]): KnownSession[] {
    const { max, onLimit } = this.limit;
    if (others.length < max) return [];
    if (onLimit === 'reject') throw new SessionUserLimitError(max);
    return others.slice(0, others.length - max + 1);
  }

  /** One change set to the current record, with what has passed dropped; the expiry it gave the record. */
  private write(view: UserRecordView, change: RecordChange): Maybe<number | undefined> {
    const { deleted, latest } = view.prune();
    if (change.empty && deleted.length === 0) return undefined;
    const expiresAt = Math.max(latest, change.latest, view.now + 1);
    const changes = { ...NOTHING, set: change.set, deleted: [...deleted, ...change.deleted] };
    const meta = { createdAt: view.now, lastActivity: view.now, expiresAt, create: true };
    const id = view.ids[0];
    return afterWork(
      this.sync ? this.sync.applyNow(id, changes, meta) : this.store.apply(id, changes, meta),
      () => expiresAt,
    );
  }

  /**
   * After a write on a store where others may have written meanwhile (read-then-write): a write that
   * read the record before another's gives the record an expiry that may miss the other's entries,
   * so the record is read again and its expiry raised until it covers them; and a sign-in under
   * 'reject' that the record no longer counts within the limit (another got there first) is
   * withdrawn and refused.
   */
  private settle(
    userId: string,
    now: number,
    expiry: number | undefined,
    signIn?: KnownSession,
  ): Maybe<void> {
    if (this.sync !== undefined || expiry === undefined) return;
    return (async () => {
      for (let round = 0, set = expiry; round < 3; round++) {
        const view = await this.read(userId, now);
        if (round === 0 && signIn !== undefined && view.find(signIn.i) === undefined) {
          await this.write(view, new RecordChange(this.keyring).revoke(signIn, this.lifetimeEnd(signIn)));
          throw new SessionUserLimitError(this.limit.max);
        }
        const { latest } = view.prune();
        if (latest <= set) return;
        await this.store.apply(view.ids[0], NOTHING, {
          createdAt: now,
          lastActivity: now,
          expiresAt: (set = latest),
          create: false,
        });
      }
    })();
  }
}

/** The store of the driver users.revocationStore names; a start-up error naming the fix when it has none. */
export function revocationStore(
  name: string,
  self: string,
  resolve: (name: string) => SessionDriver,
): SessionStore {
  const fix = `set users.revocationStore to a server-side driver ('redis', 'database', 'memory', 'file') or to one registered with SessionManager.extend()`;
  if (name === self) {
    throw usersUnsupported(self, `cannot keep its revocation record in its own cookies: ${fix}`);
  }
  let driver: SessionDriver;
  try {
    driver = resolve(name);
  } catch (error) {
    if (error instanceof SessionConfigError && error.code === 'SESSION_DRIVER_UNKNOWN') {
      throw usersUnsupported(
        'cookie',
        `cannot keep its revocation record in '${name}', which names no driver: ${fix}`,
      );
    }
    throw error;
  }
  if (driver.store === undefined) {
    throw usersUnsupported(
      self,
      `cannot keep its revocation record in '${name}', which keeps sessions in cookies, not on the server: ${fix}`,
    );
  }
  return driver.store;
}
