import type { SessionRecord } from '../core/change-set.js';
import type { Timeouts } from '../core/expiry.js';
import { SessionState } from '../core/session-state.js';
import { newSessionId } from '../crypto/keyring.js';
import { SessionConflictError, SessionTooLargeError } from '../session.errors.js';
import type { SessionEvent, SessionEventSink } from './session-event.js';

/** A session a driver found expired as its request loaded it. */
interface LapsedSession {
  id: string;
  userId: string | undefined;
  reason: 'idle' | 'lifetime';
}

/** The expired sessions drivers found at load, by the fresh state that replaced each, until the commit. */
const lapsedSessions = new WeakMap<SessionState, LapsedSession>();

/**
 * The fresh state a request gets for a session (`id`, `record`) that had expired under `t`; while
 * someone listens, the expired session is kept with it for the commit's report.
 */
export function lapsed(
  id: string,
  record: SessionRecord,
  t: Timeouts,
  events: SessionEventSink | undefined,
): SessionState {
  const state = new SessionState(undefined, undefined, newSessionId);
  if (events?.listening) {
    const reason = record.lastActivity + t.idleTimeout < record.createdAt + t.lifetime ? 'idle' : 'lifetime';
    lapsedSessions.set(state, { id, userId: record.user?.id, reason });
  }
  return state;
}

/** What every event of a session has: where, whose, when. */
type Common = Pick<SessionEvent, 'driver' | 'handle' | 'userId' | 'time'>;

/**
 * The events of one request's commit, made only when someone listens (the lifecycle makes a report
 * then, and only then). The drivers add what only they know (a session that had expired, the
 * sessions a sign-in's limit retired); the lifecycle adds what each session's state says happened.
 * They are emitted once all of the commit's store work is done, so no event reports a change the
 * response did not keep; a refused commit reports its refusal (conflict, tooLarge) instead.
 */
export class CommitReport {
  private readonly events: SessionEvent[] = [];
  private limits: Array<{ driver: string; userId: string; revoked: readonly string[] }> | undefined;

  /** A report for one commit, made only while `sink` listens. */
  static start(
    sink: SessionEventSink | undefined,
    time: number,
    handle: (id: string) => string,
  ): CommitReport | undefined {
    return sink?.listening ? new CommitReport(sink, time, handle) : undefined;
  }

  private constructor(
    private readonly sink: SessionEventSink,
    private readonly time: number,
    private readonly handle: (id: string) => string,
  ) {}

  /**
   * What the commit does to a driver's session, read from its state as the request left it and the
   * cookie the driver decided (a value for a session that had no record is a new one); first, the
   * session it replaced if that one had expired (lapsed()).
   */
  session(driver: string, state: SessionState, cookie: unknown): void {
    const found = lapsedSessions.get(state);
    if (found !== undefined) {
      this.events.push({
        name: 'expired',
        ...this.common(driver, found.id, undefined),
        userId: found.userId,
        seenBy: 'request',
        reason: found.reason,
        count: 1,
      });
    }
    const before = state.loadedUser;
    const after = state.user;
    const previous = state.previousId;
    if (previous !== undefined) {
      if (state.destroyed) this.events.push({ name: 'destroyed', ...this.common(driver, previous, before) });
      else
        this.events.push({
          name: 'regenerated',
          ...this.common(driver, state.id, after),
          previousHandle: this.handle(previous),
        });
    }
    if (before !== undefined && (state.destroyed || after?.id !== before.id)) {
      this.events.push({ name: 'signedOut', ...this.common(driver, previous ?? state.id, before) });
    }
    if ((state.isNew || state.destroyed) && typeof cookie === 'object' && cookie !== null) {
      this.events.push({ name: 'created', ...this.common(driver, state.id, after) });
    }
    if (after !== undefined && after !== before) {
      this.events.push({ name: 'signedIn', ...this.common(driver, state.id, after), policy: state.policy });
    }
  }

  /** users.maxPerUser's part of a sign-in: the ids it retires are filled by the store's work, read once it is done. */
  limit(
    driver: string,
    user: { id: string } | null | undefined,
    limit: { revoked: string[] } | undefined,
  ): void {
    if (user && limit !== undefined)
      (this.limits ??= []).push({ driver, userId: user.id, revoked: limit.revoked });
  }

  /** A driver's store work: a refusal it ends with is reported. */
  watch(work: Promise<unknown>, driver: string, state: SessionState): Promise<unknown> {
    return work.catch((error: unknown) => {
      this.refused(driver, state, error);
      throw error;
    });
  }

  /** The commit's store work, if any: the events are emitted once it is all done. */
  settle(work: Promise<unknown> | undefined): Promise<unknown> | undefined {
    if (work === undefined) {
      this.flush();
      return undefined;
    }
    return work.then((value) => {
      this.flush();
      return value;
    });
  }

  /** The commit was refused with `error`: a conflict or a session too large is reported, nothing else. */
  refused(driver: string, state: SessionState, error: unknown): void {
    const name =
      error instanceof SessionConflictError
        ? 'conflict'
        : error instanceof SessionTooLargeError
          ? 'tooLarge'
          : undefined;
    if (name === undefined) return;
    const brought = state.isNew ? undefined : (state.previousId ?? state.id);
    this.sink.emit({
      name,
      driver,
      handle: brought === undefined ? undefined : this.handle(brought),
      userId: (state.loadedUser ?? state.user)?.id,
      time: this.time,
    });
  }

  private flush(): void {
    for (const event of this.events) this.sink.emit(event);
    for (const { driver, userId, revoked } of this.limits ?? []) {
      for (const id of revoked) {
        this.sink.emit({ name: 'revoked', ...this.common(driver, id, { id: userId }), by: 'limit' });
      }
    }
  }

  private common(driver: string, id: string, user: { id: string } | undefined): Common {
    return { driver, handle: this.handle(id), userId: user?.id, time: this.time };
  }
}
