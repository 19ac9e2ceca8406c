import { AsyncLocalStorage } from 'node:async_hooks';
import type { SessionDriver } from '../drivers/session-driver.js';
import type { CookieJar } from './cookies.js';
import type { CommitResult, Committer } from './response-hooks.js';
import { SessionState } from '../core/session-state.js';
import { SessionOutsideRequestError } from '../session.errors.js';
import { newSessionId } from '../crypto/keyring.js';
import type { Session } from '../session.js';

/** Everything one request knows about its sessions, one state per driver it used. */
export class RequestContext implements Committer {
  readonly states = new Map<string, SessionState>();
  /** Set by FlashInterceptor on @KeepFlash() routes: this response never clears flash. */
  keepsFlash = false;
  /** `req.session`, made when first asked for. */
  session: Session | undefined;
  constructor(
    readonly defaultDriver: string,
    readonly cookies: CookieJar,
    private readonly isSecure: () => boolean,
    readonly now: number,
    private readonly drivers: (name: string) => SessionDriver,
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

  commit(status: number): CommitResult {
    const drivers = this.drivers;
    if (this.states.size === 0) return NOTHING;
    const consume = status >= 200 && status < 300 && !this.keepsFlash;
    const cookies: string[] = [];
    let secure: boolean | undefined;
    let pending: Promise<unknown>[] | undefined;
    const entries: Array<readonly [SessionDriver, SessionState]> = [];
    for (const [name, state] of this.states) {
      if (state.failure === undefined) entries.push([drivers(name), state]);
    }
    if (entries.length > 1)
      entries.sort(([a], [b]) => Number(b.mayRefuse === true) - Number(a.mayRefuse === true));
    for (const [driver, state] of entries) {
      const out = driver.commit({
        state,
        consume,
        hadCookie: this.cookies[driver.cookieName] !== undefined,
        secure: (secure ??= this.isSecure()),
        now: this.now,
      });
      if (out.failure !== undefined) return { cookies: [], pending: undefined, failure: out.failure };
      if (out.cookie !== undefined) cookies.push(out.cookie);
      if (out.pending !== undefined) (pending ??= []).push(out.pending);
    }
    return {
      cookies,
      pending: pending === undefined ? undefined : pending.length === 1 ? pending[0] : Promise.all(pending),
    };
  }
}

const NOTHING: CommitResult = Object.freeze({ cookies: [], pending: undefined }) as CommitResult;

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext {
  const ctx = requestContext.getStore();
  if (ctx === undefined) throw new SessionOutsideRequestError();
  return ctx;
}
