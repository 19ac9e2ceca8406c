import type { Logger } from '@nestjs/common';
import { expiresAt, isExpired, needsTouch, retiredUntil } from '../core/expiry.js';
import type { Policies } from '../core/policies.js';
import { applyChanges, isEmptyChanges, type UserLimit } from '../core/change-set.js';
import { SessionState } from '../core/session-state.js';
import { Keyring, newSessionId } from '../crypto/keyring.js';
import { lapsed } from '../events/commit-report.js';
import type { SessionEventSink } from '../events/session-event.js';
import { SessionConflictError, SessionTooLargeError, SessionUserLimitError } from '../session.errors.js';
import {
  isClosable,
  isDiagnosing,
  isPeeking,
  isSynchronous,
  isUserIndexed,
  type SessionChanges,
  type SessionMeta,
  type SessionRecord,
  type SessionStore,
  type SynchronousSessionStore,
} from '../stores/session-store.js';
import type {
  CommitInput,
  DriverCommit,
  DriverUsers,
  SessionCookie,
  SessionDriver,
} from './session-driver.js';
import { StoreHealth } from './store-health.js';
import { unusedCheck } from './store-peek.js';
import { afterWork, wholeRecord } from './store-work.js';

/**
 * A server-side driver: the cookie holds a signed random id, the store holds the record. The cookie
 * expires with the session's absolute lifetime, so it is written only when the id changes.
 */
export class StoreDriver implements SessionDriver {
  /** @internal Its store's outages as the log tells them; shared with what else uses the store. */
  readonly health: StoreHealth;
  /** The store, when it can work synchronously: no promise per request and no response held. */
  private readonly sync: SynchronousSessionStore | undefined;
  /** On a store that can peek (the memory store): the session is loaded on first use. */
  readonly unusedNeedsCommit?: SessionDriver['unusedNeedsCommit'];
  /** The user's sessions, when the store keeps the user index. */
  readonly users: DriverUsers | undefined;

  constructor(
    readonly name: string,
    readonly cookieName: string,
    readonly store: SessionStore,
    private readonly keyring: Keyring,
    private readonly policies: Policies,
    private readonly logger: Logger,
    /** users.maxPerUser (Infinity: none) and onLimit. */
    private readonly userLimit?: Pick<UserLimit, 'max' | 'onLimit'>,
    private readonly now: () => number = () => Date.now(),
    /** SessionEvents: store.down and store.up, and the sessions found expired at load. */
    private readonly events?: SessionEventSink,
  ) {
    this.sync = isSynchronous(store) ? store : undefined;
    if (this.sync !== undefined && isPeeking(this.sync))
      this.unusedNeedsCommit = unusedCheck(this.sync, keyring, cookieName, policies);
    this.users = isUserIndexed(store)
      ? {
          list: (userId) => this.guard(store.listUser(userId), () => []),
          // A tombstone that ends at once: a request in flight still writes nothing (its change set
          // applies only to a live record), and the next request is an anonymous, fresh session.
          revoke: async (_userId, id) =>
            (await this.guard(store.retire(id, this.now()), () => [id])) !== undefined,
        }
      : undefined;
    this.health = new StoreHealth(
      name,
      logger,
      isDiagnosing(store) ? (error) => store.misconfiguration(error) : undefined,
      now,
      events,
    );
  }

  load(cookie: string | undefined, now: number): Promise<SessionState> | SessionState {
    const id = cookie === undefined ? undefined : this.keyring.unsign(this.cookieName, cookie);
    if (id === undefined) return new SessionState(undefined, undefined, newSessionId);
    if (this.sync !== undefined) return this.loaded(id, this.sync.getNow(id), now);
    return this.fetch(id, now);
  }

  private async fetch(id: string, now: number): Promise<SessionState> {
    let record;
    try {
      record = await this.store.get(id);
      this.up();
    } catch (error) {
      return SessionState.failed(this.name, this.unavailable(error, [id]));
    }
    return this.loaded(id, record, now);
  }

  private loaded(id: string, record: SessionRecord | 'retired' | undefined, now: number): SessionState {
    if (record === 'retired') return SessionState.retired(newSessionId);
    if (record === undefined) return new SessionState(undefined, undefined, newSessionId);
    const policy = this.policies.of(record.policy);
    if (isExpired(policy, record.createdAt, record.lastActivity, now))
      return lapsed(id, record, policy, this.events);
    return new SessionState(id, record, newSessionId);
  }

  /**
   * By the session's status: untouched or retired-and-unchanged writes nothing; a live record gets
   * its change set (refused when it was retired meanwhile: 409); a regenerated one is retired and
   * its record, as the store holds it now, carried to the new id with this request's changes; a
   * destroyed one is retired; a new one is created when it holds something.
   */
  commit({ state, consume, hadCookie, now, noTouch, report }: CommitInput): DriverCommit {
    if (state.failure) return {};
    // The ids this commit's store work is about, for its error (told without them); read only then,
    // since reading a new session's id makes one.
    const ids = () => [state.id, state.previousId];
    if (state.retired) {
      // The request brought a retired id: nothing is written under it, and the client's cookie is
      // left alone (the response that retired it carries the one to keep).
      state.committed(RETIRED);
      return state.modified ? { failure: new SessionConflictError(this.name) } : {};
    }
    const policy = this.policies.of(state.policy);
    const createdAt = state.createdAt !== undefined && !state.destroyed ? state.createdAt : now;
    const meta: SessionMeta = {
      createdAt,
      lastActivity: now,
      expiresAt: expiresAt(policy, createdAt, now),
      create: false,
    };
    const newCookie = (): SessionCookie => ({
      value: this.keyring.sign(this.cookieName, state.id),
      expires: policy.persistent ? createdAt + policy.lifetime : undefined,
    });
    try {
      if (state.hasStoredRecord) {
        const changes = state.changes(consume, false);
        // A new policy brings a new expiry for the cookie (its id is the same).
        const reissue = state.policyChangedHere;
        state.committed(undefined);
        const empty = isEmptyChanges(changes);
        if (empty && (noTouch || !needsTouch(policy, state.lastActivity, now))) return {};
        const applied = this.work(
          afterWork(this.apply(state.id, changes, meta), (applied) => {
            if (!applied && !empty) throw new SessionConflictError(this.name);
          }),
          ids,
        );
        return reissue ? { ...applied, cookie: newCookie() } : applied;
      }
      const previous = state.previousId;
      if (previous !== undefined && !state.destroyed) {
        // regenerate(): first the session as this request sees it, under the new id no client knows
        // yet, so one past maxSize fails before the old id is retired (the client keeps its session);
        // then the old id is retired and its record, as the store holds it now (with what other
        // requests committed meanwhile), carried to the new id with this request's changes.
        const changes = state.changes(consume, false);
        const seen = state.changes(consume, true);
        state.committed(undefined);
        const bind = { ...meta, create: true, limit: this.limit(changes, now, previous) };
        report?.limit(this.name, changes.user, bind.limit);
        const moved = afterWork(this.apply(state.id, seen, bind), () =>
          afterWork(this.retire(previous, retiredUntil(policy, state.createdAt ?? now, now)), (record) => {
            if (record === undefined) {
              return afterWork(this.remove(state.id), () => {
                throw new SessionConflictError(this.name);
              });
            }
            const next = applyChanges(record, changes, meta);
            return this.apply(state.id, wholeRecord(next), {
              ...meta,
              createdAt: next.createdAt,
              create: false,
            });
          }),
        );
        return { ...this.work(moved, ids), cookie: newCookie() };
      }
      // A new session, or what was set after destroy(): created when it holds something (the old
      // id's tombstone lasts the grace window, core/expiry.ts).
      const retired =
        previous === undefined
          ? undefined
          : this.retire(previous, retiredUntil(policy, state.createdAt ?? now, now));
      const changes = state.changes(consume, true);
      let created: Promise<boolean> | boolean | undefined;
      let cookie: SessionCookie | undefined;
      if (!isEmptyChanges({ ...changes, clearData: false, clearFlash: false })) {
        const limit = this.limit(changes, now);
        report?.limit(this.name, changes.user, limit);
        created = this.apply(state.id, changes, { ...meta, create: true, limit });
        cookie = newCookie();
      } else if (state.destroyed && hadCookie) {
        cookie = 'clear';
      }
      // Nothing created: no cookie reaches the client with the head, so nothing later can be kept.
      state.committed(created === undefined ? NO_COOKIE : undefined);
      const pending = [retired, created].filter((p) => p instanceof Promise);
      if (pending.length === 0) return { cookie };
      return { ...this.work(pending.length === 1 ? pending[0] : Promise.all(pending), ids), cookie };
    } catch (error) {
      // A synchronous store refused (conflict, too large): the response becomes the error.
      return { failure: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  /** users.maxPerUser, for a change set that binds the session to a user (signIn()). */
  private limit(changes: SessionChanges, until: number, replaces?: string): SessionMeta['limit'] {
    const limit = this.userLimit;
    if (!changes.user || limit === undefined || limit.max === Infinity) return undefined;
    return { max: limit.max, onLimit: limit.onLimit, until, replaces, revoked: [] };
  }

  /** A change set made after the head, applied before the response ends to the record the head's cookie names. */
  commitLate(state: SessionState, now: number): Promise<unknown> | undefined {
    const changes = state.changes(false, false);
    if (isEmptyChanges(changes)) return undefined;
    const createdAt = state.createdAt ?? now;
    const meta = {
      createdAt,
      lastActivity: now,
      expiresAt: expiresAt(this.policies.of(state.policy), createdAt, now),
      create: false,
    };
    try {
      const applied = afterWork(this.apply(state.id, changes, meta), (applied) => {
        if (!applied) throw new SessionConflictError(this.name);
      });
      return applied instanceof Promise ? this.guard(applied, () => [state.id]) : undefined;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async close(): Promise<void> {
    if (isClosable(this.store)) await this.store.close();
  }

  /** SessionHealthIndicator's probe: a read of an id no session has, counted as any store call. */
  async ping(): Promise<void> {
    await this.guard(this.store.get(newSessionId()), () => []);
  }

  /** Store work: done at once on a synchronous store, otherwise the promise to wait for. */
  private apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> | boolean {
    return this.sync === undefined
      ? this.store.apply(id, changes, meta)
      : this.sync.applyNow(id, changes, meta);
  }

  private remove(id: string): Promise<void> | void {
    return this.sync === undefined ? this.store.destroy(id) : this.sync.destroyNow(id);
  }

  private retire(id: string, until: number): Promise<SessionRecord | undefined> | SessionRecord | undefined {
    return this.sync === undefined ? this.store.retire(id, until) : this.sync.retireNow(id, until);
  }

  /** The commit's store work on the sessions `ids`, if any is still to wait for. */
  private work(result: Promise<unknown> | unknown, ids: () => (string | undefined)[]): DriverCommit {
    return result instanceof Promise ? { pending: this.guard(result, ids) } : {};
  }

  /** A store that failed is unavailable (503, logged once per outage); a refusal (409, 500) passes as it is. */
  private guard<T>(work: Promise<T>, ids: () => (string | undefined)[]): Promise<T> {
    return work.then(
      (value) => {
        this.up();
        return value;
      },
      (error: unknown) => {
        if (
          error instanceof SessionConflictError ||
          error instanceof SessionTooLargeError ||
          error instanceof SessionUserLimitError
        ) {
          this.up();
          throw error;
        }
        throw this.unavailable(error, ids());
      },
    );
  }

  private unavailable(error: unknown, ids: readonly (string | undefined)[]): Error {
    return this.health.failed(error, ids);
  }

  private up(): void {
    this.health.ok();
  }
}

/** Why a request that brought a retired id cannot take changes after the head. */
const RETIRED = 'its id was retired (regenerated or destroyed) by another request';
/** Why a session that sent no cookie with the head cannot take changes after it. */
const NO_COOKIE =
  "the response's head was sent before this session held anything, so no session cookie reached the client";
