import type { Logger } from '@nestjs/common';
import { expiresAt, isExpired, needsTouch, type Timeouts } from '../core/expiry.js';
import { SessionState, isEmptyChanges } from '../core/session-state.js';
import { Keyring, newSessionId } from '../crypto/keyring.js';
import { SessionStoreUnavailableError, errorMessage } from '../session.errors.js';
import {
  isClosable,
  isSynchronous,
  type SessionChanges,
  type SessionMeta,
  type SessionRecord,
  type SessionStore,
  type SynchronousSessionStore,
} from '../stores/session-store.js';
import type { CommitInput, DriverCommit, SessionCookie, SessionDriver } from './session-driver.js';

/**
 * A server-side driver: the cookie holds a signed random id, the store holds the record. The cookie
 * expires with the session's absolute lifetime, so it is written only when the id changes.
 */
export class StoreDriver implements SessionDriver {
  private down = false;
  /** The store, when it can work synchronously: no promise per request and no response held. */
  private readonly sync: SynchronousSessionStore | undefined;

  constructor(
    readonly name: string,
    readonly cookieName: string,
    readonly store: SessionStore,
    private readonly keyring: Keyring,
    private readonly timeouts: Timeouts,
    private readonly logger: Logger,
  ) {
    this.sync = isSynchronous(store) ? store : undefined;
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
      const state = new SessionState(undefined, undefined, newSessionId);
      state.failure = this.unavailable(error);
      return state;
    }
    return this.loaded(id, record, now);
  }

  private loaded(id: string, record: SessionRecord | undefined, now: number): SessionState {
    if (record && isExpired(this.timeouts, record.createdAt, record.lastActivity, now)) record = undefined;
    return new SessionState(record ? id : undefined, record, newSessionId);
  }

  commit({ state, consume, hadCookie, now }: CommitInput): DriverCommit {
    if (state.failure) return {};
    const createdAt = state.createdAt !== undefined && !state.destroyed ? state.createdAt : now;
    const meta = { createdAt, lastActivity: now, expiresAt: expiresAt(this.timeouts, createdAt, now) };
    if (state.hasStoredRecord) {
      const changes = state.changes(consume, false);
      if (isEmptyChanges(changes) && !needsTouch(this.timeouts, state.lastActivity, now)) return {};
      const pending = this.apply(state.id, changes, meta);
      return pending === undefined ? {} : { pending: this.guard(pending) };
    }
    // A new record: a new session, or one given a new id by regenerate() or destroy().
    const writes: Promise<unknown>[] = [];
    const wait = (work: Promise<void> | undefined) => work !== undefined && writes.push(work);
    if (state.previousId !== undefined) wait(this.destroy(state.previousId));
    const changes = state.changes(consume, true);
    let cookie: SessionCookie | undefined;
    if (
      !isEmptyChanges({ ...changes, clearData: false, clearFlash: false }) ||
      (!state.isNew && !state.destroyed)
    ) {
      wait(this.apply(state.id, changes, meta));
      cookie = {
        value: this.keyring.sign(this.cookieName, state.id),
        expires: createdAt + this.timeouts.lifetime,
      };
    } else if (state.destroyed && hadCookie) {
      cookie = 'clear';
    }
    if (writes.length === 0) return { cookie };
    return { cookie, pending: this.guard(writes.length === 1 ? writes[0] : Promise.all(writes)) };
  }

  async close(): Promise<void> {
    if (isClosable(this.store)) await this.store.close();
  }

  /** Store work: done at once on a synchronous store (undefined), otherwise the promise to wait for. */
  private apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<void> | undefined {
    if (this.sync === undefined) return this.store.apply(id, changes, meta);
    this.sync.applyNow(id, changes, meta);
    return undefined;
  }

  private destroy(id: string): Promise<void> | undefined {
    if (this.sync === undefined) return this.store.destroy(id);
    this.sync.destroyNow(id);
    return undefined;
  }

  private guard(work: Promise<unknown>): Promise<unknown> {
    return work.then(
      () => this.up(),
      (error: unknown) => {
        throw this.unavailable(error);
      },
    );
  }

  private unavailable(error: unknown): SessionStoreUnavailableError {
    if (!this.down) {
      this.down = true;
      this.logger.error(`The '${this.name}' session store is unavailable: ${errorMessage(error)}`);
    }
    return new SessionStoreUnavailableError(this.name, error);
  }

  private up(): void {
    if (this.down) {
      this.down = false;
      this.logger.log(`The '${this.name}' session store is available again`);
    }
  }
}
