import type { SessionState } from '../core/session-state.js';

/** What a driver contributes to one commit. */
export interface DriverCommit {
  cookie?: string;
  pending?: Promise<unknown>;
  /** The session cannot be kept as it is (a cookie too large): the response becomes this error. */
  failure?: Error;
}

export interface CommitInput {
  state: SessionState;
  /** The final status is 2xx on a route that clears flash. */
  consume: boolean;
  /** The request came with this driver's cookie. */
  hadCookie: boolean;
  secure: boolean;
  now: number;
}

/**
 * How a driver keeps sessions between requests: it turns the request's cookie into a state, and a
 * state into a cookie (decided synchronously, before the headers leave) plus the store work to await.
 */
export interface SessionDriver {
  readonly name: string;
  readonly cookieName: string;
  load(cookie: string | undefined, now: number): Promise<SessionState> | SessionState;
  commit(input: CommitInput): DriverCommit;
  /** Drivers that may refuse a commit (failure) are committed first, so a refused response writes nothing. */
  readonly mayRefuse?: boolean;
}

export interface Timeouts {
  idleTimeout: number;
  lifetime: number;
}

export function isExpired(t: Timeouts, createdAt: number, lastActivity: number, now: number): boolean {
  return now - lastActivity > t.idleTimeout || now - createdAt > t.lifetime;
}

export function expiresAt(t: Timeouts, createdAt: number, now: number): number {
  return Math.min(now + t.idleTimeout, createdAt + t.lifetime);
}

/** An unmodified session is written again only when its last activity is this stale (1% of the idle timeout, 1 s at least). */
export function needsTouch(t: Timeouts, lastActivity: number | undefined, now: number): boolean {
  return lastActivity !== undefined && now - lastActivity >= Math.max(1000, t.idleTimeout / 100);
}
