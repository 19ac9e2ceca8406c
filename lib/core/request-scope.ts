/**
 * The request scope: the sessions of the request being handled, found through AsyncLocalStorage, so
 * `Session`, `@Flash()` and `SessionManager.driver()` are singletons that still see each request's
 * own session. The lifecycle (http/lifecycle.ts) opens a scope for every request it handles.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { SessionOutsideRequestError } from '../session.errors.js';
import type { SessionState } from './session-state.js';

/** What a request's scope gives: one state per driver, and the request's flash setting. */
export interface RequestScope {
  readonly defaultDriver: string;
  /** When the request started, on the module's clock (ms since the epoch). */
  readonly now: number;
  /** What the request says of its client: the User-Agent header and the address. */
  device(): { userAgent: string | undefined; ip: string | undefined };
  /** The state kept by a driver (a fresh one when the request brought no cookie for it). */
  state(driver: string): SessionState;
  /** The state of a driver the request has loaded or used, without making one. */
  existing(driver: string): SessionState | undefined;
  /** Set by FlashInterceptor on @KeepFlash() routes: this response never clears flash. */
  keepsFlash: boolean;
  /** Set by NoTouchInterceptor on @NoTouch() routes: an unchanged session is not extended. */
  noTouch: boolean;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

/** The current request's scope; outside a request, SessionOutsideRequestError. */
export function currentScope(): RequestScope {
  const scope = requestScope.getStore();
  if (scope === undefined) throw new SessionOutsideRequestError();
  return scope;
}

/**
 * A driver's state in a scope (the current request's when none is given), ready to use: a session
 * whose store could not be read throws its failure (a 503 for the routes that use it).
 */
export function usableState(driver?: string, scope: RequestScope = currentScope()): SessionState {
  const state = scope.state(driver ?? scope.defaultDriver);
  if (state.failure) throw state.failure;
  return state;
}
