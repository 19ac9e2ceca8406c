/**
 * The driver contract. A driver is what a driver name in `forRoot(name)` or
 * `SessionManager.driver(name)` gives:
 *
 * | name                          | class        | keeps the session                          |
 * | ----------------------------- | ------------ | ------------------------------------------ |
 * | 'cookie'                      | CookieDriver | sealed in the cookie itself                |
 * | 'memory', 'database', 'redis' | StoreDriver  | in a SessionStore (lib/stores/), the cookie |
 * | a name given to extend()      | StoreDriver  | holding only a signed id                   |
 *
 * Drivers speak cookies and session states; stores speak ids and records and never see HTTP.
 */
import type { SessionRecord } from '../core/change-set.js';
import type { FlashConsumption, SessionState } from '../core/session-state.js';
import type { CommitReport } from '../events/commit-report.js';
import type { SessionStore } from '../stores/session-store.js';

/**
 * What the driver's cookie should become: a value with its expiry (ms since the epoch; undefined: a
 * browser-session cookie, for a policy that is not persistent), or cleared.
 */
export type SessionCookie = { value: string; expires: number | undefined } | 'clear';

/** How long the Set-Cookie header for a value would be, with the configured attributes (http/cookies.ts). */
export interface CookieSizer {
  size(name: string, value: string, secureRequest: boolean): number;
}

/** What a driver contributes to one commit. */
export interface DriverCommit {
  cookie?: SessionCookie;
  pending?: Promise<unknown>;
  /** The session cannot be kept as it is (too large): the response becomes this error. */
  failure?: Error;
}

export interface CommitInput {
  state: SessionState;
  /** What the response consumes of the flash (http/lifecycle.ts `clearsFlash`). */
  consume: FlashConsumption;
  /** The request came with this driver's cookie. */
  hadCookie: boolean;
  secure: boolean;
  now: number;
  /** A @NoTouch() route: a session this request did not change is not extended (nothing written). */
  noTouch?: boolean;
  /** While someone listens to SessionEvents: where the driver adds what only it knows. */
  report?: CommitReport;
}

/**
 * A driver's sessions of one user, as SessionRegistry reaches them: what a store's user index holds,
 * or (the cookie driver) its revocation record.
 */
export interface DriverUsers {
  /** The user's live sessions on this driver. */
  list(userId: string): Promise<Array<{ id: string; record: SessionRecord }>>;
  /**
   * Revokes one of them (an id list() gave): retired at once, so its next request is anonymous and a
   * request in flight on it writes nothing (409). False when it was no longer live.
   */
  revoke(userId: string, id: string): Promise<boolean>;
  /**
   * Revokes every session of the user at once, where the driver can do better than one by one (the
   * cookie driver's "not before"); how many live ones went.
   */
  revokeAll?(userId: string): Promise<number>;
}

/**
 * How a driver keeps sessions between requests: it turns the request's cookie into a state, and a
 * state into a cookie decision (made synchronously, before the headers leave) plus the store work to
 * await.
 */
export interface SessionDriver {
  readonly name: string;
  readonly cookieName: string;
  load(cookie: string | undefined, now: number): Promise<SessionState> | SessionState;
  /**
   * A driver with this loads its session on first use (its `load` is then synchronous): a request
   * that never uses it asks only this at commit, with its cookie. True when the session must still be
   * loaded and committed: its idle expiry is due to be extended, or it holds flash the response
   * consumes (`consume === true`). False when the commit would write nothing.
   */
  unusedNeedsCommit?(cookie: string, consume: FlashConsumption, now: number, noTouch: boolean): boolean;
  /**
   * Decides the commit. It also tells the state, with `state.committed()`, whether changes made after
   * the response's head can still be kept (by commitLate()) or why not.
   */
  commit(input: CommitInput): DriverCommit;
  /**
   * Keeps the changes made after the commit, before the response ends (under the id the client got
   * with the head): the store work to wait for, if any.
   */
  commitLate?(state: SessionState, now: number): Promise<unknown> | undefined;
  /** Drivers that may refuse a commit (failure) are committed first, so a refused response writes nothing. */
  readonly mayRefuse?: boolean;
  /** The store behind a server-side driver (SessionManager.store()). */
  readonly store?: SessionStore;
  /** A user's sessions on this driver, when it can list and revoke them. */
  readonly users?: DriverUsers;
  /** Releases what the driver opened, on application shutdown. */
  close?(): Promise<void>;
  /** Reads an unknown id from the store: resolves while it answers (SessionHealthIndicator). */
  ping?(): Promise<void>;
}
