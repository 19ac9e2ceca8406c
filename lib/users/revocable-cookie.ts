import type { Logger } from '@nestjs/common';
import type { Policies } from '../core/policies.js';
import { SessionState } from '../core/session-state.js';
import { newSessionId, type Keyring } from '../crypto/keyring.js';
import type { CookieDriver } from '../drivers/cookie.driver.js';
import type {
  CommitInput,
  DriverCommit,
  DriverUsers,
  SessionCookie,
  SessionDriver,
} from '../drivers/session-driver.js';
import { StoreHealth } from '../drivers/store-health.js';
import { SessionTooLargeError, SessionUserLimitError } from '../session.errors.js';
import { isDiagnosing, type SessionRecord } from '../stores/session-store.js';
import {
  entryExpiry,
  RevocationRecords,
  revocationStore,
  seenInterval,
  type KnownSession,
  type RecordUpdate,
  type UserRecordView,
} from './revocation-record.js';
import type { ResolvedUsersOptions } from './users.options.js';

/** A session the record counted as signed in when the request loaded it. */
interface Bound {
  userId: string;
  session: KnownSession;
  /** Only a record under an older secret keeps it: the next write moves it to the current one. */
  older: boolean;
}

/**
 * The cookie driver with `users`: its sealed cookies, and a revocation record per user in a
 * server-side driver's store (revocation-record.ts), so a user's cookie sessions can be listed and
 * revoked. An anonymous request costs nothing more. A signed-in one reads the record once as it loads:
 * a session the record does not count (revoked, signed in before "not before", past the limit, or
 * never recorded) is a fresh anonymous session, and its cookie is cleared (or replaced, when the
 * request puts something in the new session). The record's store down: the routes that use the
 * session answer 503, never a silent "not revoked". A sign-in, sign-out, regenerate or new policy
 * writes the record in the commit the response waits for; so does a request whose session was last
 * written there longer ago than a tenth of its idle timeout (its last-seen time).
 *
 * What it cannot do, being stateless: a request already under way when its session is revoked has
 * passed its check; its response keeps what it changed in its cookie (no 409 is possible: nothing
 * is stored to refuse), and that cookie's next request is anonymous.
 */
export class RevocableCookieDriver implements SessionDriver {
  readonly mayRefuse = true;
  readonly users: DriverUsers;
  private readonly bound = new WeakMap<SessionState, Bound>();
  /** Fresh sessions standing in for one the record no longer counts: their cookie goes. */
  private readonly replaced = new WeakSet<SessionState>();
  private readonly health: StoreHealth;

  constructor(
    private readonly cookie: CookieDriver,
    private readonly records: RevocationRecords,
    private readonly storeName: string,
    private readonly policies: Policies,
    logger: Logger,
    clock: () => number,
  ) {
    const store = records.store;
    this.health = new StoreHealth(
      storeName,
      logger,
      isDiagnosing(store) ? (error) => store.misconfiguration(error) : undefined,
    );
    this.users = {
      list: async (userId) => {
        const view = await this.guard(records.read(userId, clock()));
        return view.live().map((session) => ({ id: session.i, record: recordOf(userId, session) }));
      },
      revoke: (userId, id) => this.guard(records.revoke(userId, id, clock())),
      revokeAll: (userId) => this.guard(records.revokeAll(userId, clock())),
    };
  }

  get name(): string {
    return this.cookie.name;
  }

  get cookieName(): string {
    return this.cookie.cookieName;
  }

  load(cookie: string | undefined, now: number): Promise<SessionState> | SessionState {
    const state = this.cookie.load(cookie, now);
    const user = state.user;
    if (user === undefined) return state;
    try {
      const read = this.records.read(user.id, now);
      if (!(read instanceof Promise)) return this.checked(state, user.id, read);
      return read.then(
        (view) => this.checked(state, user.id, view),
        (error: unknown) => this.failed(error),
      );
    } catch (error) {
      return this.failed(error);
    }
  }

  commit(input: CommitInput): DriverCommit {
    const { state, now } = input;
    if (state.failure) return {};
    const out = this.cookie.commit(input);
    if (out.failure !== undefined) return out;
    const cookie: SessionCookie | undefined =
      out.cookie === undefined && input.hadCookie && this.replaced.has(state) ? 'clear' : out.cookie;
    const decided = cookie === undefined ? {} : { cookie };
    try {
      const work = this.work(state, cookie, now);
      return work === undefined ? decided : { ...decided, pending: this.guard(work) };
    } catch (error) {
      return { failure: this.failure(error) };
    }
  }

  private checked(state: SessionState, userId: string, view: UserRecordView): SessionState {
    this.health.ok();
    const session = view.find(state.id);
    if (session !== undefined) {
      this.bound.set(state, { userId, session, older: !view.inCurrent(session.i) });
      return state;
    }
    const fresh = new SessionState(undefined, undefined, newSessionId);
    this.replaced.add(fresh);
    return fresh;
  }

  /** What the commit writes to the records: the binding the client's cookie ends with, against the one it came with. */
  private work(
    state: SessionState,
    cookie: SessionCookie | undefined,
    now: number,
  ): Promise<unknown> | undefined {
    const before = this.bound.get(state);
    const user = state.user;
    const sealed = cookie !== undefined && cookie !== 'clear';
    const same = before !== undefined && user?.id === before.userId && state.id === before.session.i;
    const updates = new Map<string, RecordUpdate>();
    const of = (userId: string) => {
      let update = updates.get(userId);
      if (update === undefined) updates.set(userId, (update = {}));
      return update;
    };
    if (before !== undefined && (state.destroyed || (sealed && !same))) {
      of(before.userId).revoke = [before.session];
    }
    if (sealed && user !== undefined) {
      const policy = this.policies.of(state.policy);
      if (same) {
        const known = before.session;
        if (known.p !== state.policy || now - known.a >= seenInterval(policy) || before.older) {
          of(user.id).add = withPolicy(
            { ...known, a: now, e: entryExpiry(policy, known.c, now) },
            state.policy,
          );
        }
      } else {
        const signIn =
          before === undefined || before.userId !== user.id || before.session.t !== user.signedInAt;
        // regenerate(): the device as the record kept it at sign-in.
        const kept = signIn ? undefined : before.session;
        const createdAt = state.isNew || state.destroyed ? now : (state.createdAt ?? now);
        const session: KnownSession = {
          i: state.id,
          t: user.signedInAt,
          c: createdAt,
          w: kept?.w ?? this.records.writtenAt(),
          a: now,
          e: entryExpiry(policy, createdAt, now),
        };
        const label = user.label ?? kept?.l;
        const userAgent = user.userAgent ?? kept?.ua;
        const ip = user.ip ?? kept?.ip;
        if (label !== undefined) session.l = label;
        if (userAgent !== undefined) session.ua = userAgent;
        if (ip !== undefined) session.ip = ip;
        Object.assign(of(user.id), { add: withPolicy(session, state.policy), signIn });
      }
    }
    const pending: Promise<unknown>[] = [];
    for (const [userId, update] of updates) {
      const done = this.records.commit(userId, now, update);
      if (done instanceof Promise) pending.push(done);
    }
    return pending.length === 0 ? undefined : Promise.all(pending);
  }

  /** Record work whose failure is an outage of its store (503, logged once), unless it is a refusal. */
  private async guard<T>(work: Promise<T> | T): Promise<T> {
    try {
      const value = await work;
      this.health.ok();
      return value;
    } catch (error) {
      throw this.failure(error);
    }
  }

  private failure(error: unknown): Error {
    if (error instanceof SessionUserLimitError || error instanceof SessionTooLargeError) return error;
    return this.health.failed(error);
  }

  private failed(error: unknown): SessionState {
    return SessionState.failed(this.storeName, this.failure(error));
  }
}

function withPolicy(session: KnownSession, policy: string | undefined): KnownSession {
  if (policy === undefined) delete session.p;
  else session.p = policy;
  return session;
}

/** A recorded session as SessionRegistry shows it. */
function recordOf(userId: string, session: KnownSession): SessionRecord {
  const record: SessionRecord = {
    data: {},
    flash: {},
    createdAt: session.c,
    lastActivity: session.a,
    user: { id: userId, signedInAt: session.t },
  };
  if (session.l !== undefined) record.user!.label = session.l;
  if (session.ua !== undefined) record.user!.userAgent = session.ua;
  if (session.ip !== undefined) record.user!.ip = session.ip;
  if (session.p !== undefined) record.policy = session.p;
  return record;
}

/** What the cookie driver's record needs of the module's options. */
export interface RevocationOptions {
  policies: Policies;
  users: ResolvedUsersOptions;
  clock: () => number;
}

/**
 * The cookie driver made revocable, its records in the store of the driver `users.revocationStore`
 * names. A name that cannot keep them is a SessionConfigError naming the fix.
 */
export function revocableCookie(
  cookie: CookieDriver,
  drivers: { resolve(name: string): SessionDriver },
  keyring: Keyring,
  options: RevocationOptions,
  logger: Logger,
): RevocableCookieDriver {
  const name = options.users.revocationStore!;
  const { maxPerUser: max, onLimit } = options.users;
  const records = new RevocationRecords(
    revocationStore(name, cookie.name, (n) => drivers.resolve(n)),
    keyring,
    options.policies,
    { max, onLimit },
    options.clock,
  );
  return new RevocableCookieDriver(cookie, records, name, options.policies, logger, options.clock);
}
