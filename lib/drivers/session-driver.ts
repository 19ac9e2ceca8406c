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
import type { FlashConsumption, SessionState } from '../core/session-state.js';
import type { SessionStore } from '../stores/session-store.js';

/** What the driver's cookie should become: a value with its expiry (ms since the epoch), or cleared. */
export type SessionCookie = { value: string; expires: number } | 'clear';

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
  commit(input: CommitInput): DriverCommit;
  /** Drivers that may refuse a commit (failure) are committed first, so a refused response writes nothing. */
  readonly mayRefuse?: boolean;
  /** The store behind a server-side driver (SessionManager.store()). */
  readonly store?: SessionStore;
  /** Releases what the driver opened, on application shutdown. */
  close?(): Promise<void>;
}
