import { requestScope, type RequestScope } from '../core/request-scope.js';
import { SessionState, type FlashConsumption } from '../core/session-state.js';
import { newSessionId } from '../crypto/keyring.js';
import type { SessionDriver } from '../drivers/session-driver.js';

/** What the kit says of the client a session belongs to (what a request's headers would say). */
export interface TestDevice {
  userAgent?: string;
  ip?: string;
}

/**
 * The sessions of one piece of work the kit does without HTTP (minting a session, running a service
 * in one): a request scope of its own, committed through each driver as a response would commit it.
 */
export class TestScope implements RequestScope {
  readonly states = new Map<string, SessionState>();
  keepsFlash = false;
  /** No route marks the kit's work @NoTouch(): a session it leaves unchanged is touched as a request's is. */
  noTouch = false;

  constructor(
    readonly defaultDriver: string,
    readonly now: number,
    private readonly seen: TestDevice,
    /** Whether the cookie would go out with Secure (cookie.secure true): its size counts it. */
    private readonly secure: boolean,
  ) {}

  device(): { userAgent: string | undefined; ip: string | undefined } {
    return { userAgent: this.seen.userAgent, ip: this.seen.ip };
  }

  state(driver: string): SessionState {
    let state = this.states.get(driver);
    if (state === undefined)
      this.states.set(driver, (state = new SessionState(undefined, undefined, newSessionId)));
    return state;
  }

  existing(driver: string): SessionState | undefined {
    return this.states.get(driver);
  }

  /** Runs `work` in this scope: the injected `Session` and `SessionManager.driver()` find its sessions. */
  run<T>(work: () => T): T {
    return requestScope.run(this, work);
  }

  /**
   * Commits every session of the scope, drivers that may refuse first, and waits for the store work.
   * Resolves to the cookies the client holds afterwards: by cookie name, the new value, or undefined
   * for a cookie cleared; a cookie left as it was is absent. A refusal (too large, over the user
   * limit, a conflict) or a store that fails rejects, as the response would have been that error.
   */
  async commit(
    driver: (name: string) => SessionDriver,
    consume: FlashConsumption,
    hadCookie: (cookieName: string) => boolean,
  ): Promise<Map<string, string | undefined>> {
    const entries = [...this.states]
      .filter(([, state]) => state.failure === undefined)
      .map(([name, state]) => [driver(name), state] as const)
      .sort(([a], [b]) => Number(b.mayRefuse === true) - Number(a.mayRefuse === true));
    const cookies = new Map<string, string | undefined>();
    const pending: Promise<unknown>[] = [];
    for (const [d, state] of entries) {
      const out = d.commit({
        state,
        consume,
        hadCookie: hadCookie(d.cookieName),
        secure: this.secure,
        now: this.now,
      });
      if (out.failure !== undefined) throw out.failure;
      if (out.cookie !== undefined)
        cookies.set(d.cookieName, out.cookie === 'clear' ? undefined : out.cookie.value);
      if (out.pending !== undefined) pending.push(out.pending);
    }
    await Promise.all(pending);
    return cookies;
  }
}
