import { AsyncLocalStorage } from 'node:async_hooks';
import type { SessionDriver } from './drivers/session-driver.js';
import type { CookieJar } from './http/cookies.js';
import type { CommitResult } from './http/response-hooks.js';
import { SessionState } from './session-state.js';
import { SessionOutsideRequestError } from './session.errors.js';
import { newSessionId } from './crypto/keyring.js';

/** Everything one request knows about its sessions, one state per driver it used. */
export class RequestContext {
  readonly states = new Map<string, SessionState>();
  /** Set by FlashInterceptor: a route handled this request and it clears flash on success. */
  clearsFlash = false;
  /** Set by SessionManager when a driver with a preflight is in use: FlashInterceptor then calls preflight(). */
  preflights: ((name: string) => SessionDriver) | undefined;
  private committed = false;

  constructor(
    readonly defaultDriver: string,
    readonly cookies: CookieJar,
    private readonly isSecure: () => boolean,
    readonly now: number,
  ) {}

  /** The state kept by a driver; a driver whose cookie the request did not bring starts empty. */
  state(driver: string): SessionState {
    let state = this.states.get(driver);
    if (state === undefined) {
      state = new SessionState(undefined, undefined, newSessionId);
      this.states.set(driver, state);
    }
    return state;
  }

  /** Once the handler returned: lets each driver fail the request through Nest's exception path. */
  preflight(): void {
    const drivers = this.preflights;
    if (drivers === undefined || this.committed) return;
    for (const [name, state] of this.states) drivers(name).preflight?.(state, this.now);
  }

  commit(status: number, drivers: (name: string) => SessionDriver): CommitResult {
    this.committed = true;
    const consume = this.clearsFlash && status >= 200 && status < 300;
    const cookies: string[] = [];
    let secure: boolean | undefined;
    let pending: Promise<unknown>[] | undefined;
    for (const [name, state] of this.states) {
      const driver = drivers(name);
      const out = driver.commit({
        state,
        consume,
        hadCookie: this.cookies[driver.cookieName] !== undefined,
        secure: (secure ??= this.isSecure()),
        now: this.now,
      });
      if (out.cookie !== undefined) cookies.push(out.cookie);
      if (out.pending !== undefined) (pending ??= []).push(out.pending);
    }
    return {
      cookies,
      pending: pending === undefined ? undefined : pending.length === 1 ? pending[0] : Promise.all(pending),
    };
  }
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext {
  const ctx = requestContext.getStore();
  if (ctx === undefined) throw new SessionOutsideRequestError();
  return ctx;
}
