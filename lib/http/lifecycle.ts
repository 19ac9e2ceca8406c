/**
 * THE request lifecycle, top to bottom:
 *
 *  1. Entry: the adapter's glue calls `handle()` as the request arrives, before the app's
 *     middleware (express.adapter.ts, fastify.adapter.ts; nest-middleware.ts for other adapters).
 *  2. Read the cookies.
 *  3. Load each driver whose cookie came (cookie name -> driver: driver-registry.ts). A synchronous
 *     load (memory store, cookie driver) is adopted at once; the others are awaited together. A load
 *     that fails becomes a failed state: the routes that use that session answer 503, the rest work.
 *  4. Gate the response (response-gate.ts): nothing of it leaves before the commit is decided.
 *  5. Run the rest of the request (middleware, guards, handler, filters) in the request scope
 *     (core/request-scope.ts), where `Session`, `@Flash()` and `req.session` find its sessions.
 *  6. Commit, once, at the first head or body write, with the status the response is sent with:
 *     the flash rule (`clearsFlash`) decides what of the flash this request saw is consumed; each
 *     driver turns its state into a cookie decision and store work (drivers that may refuse go
 *     first); the cookies are written here, through one CookieWriter.
 *  7. The gate holds head, body and end until the store work is done, then releases them, or
 *     replaces the response with the error's body (503 store unavailable, 500 too large, 409 conflict).
 */
import { HttpException } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestScope, usableState, type RequestScope } from '../core/request-scope.js';
import { SessionState, type FlashConsumption } from '../core/session-state.js';
import { newSessionId } from '../crypto/keyring.js';
import type { DriverRegistry } from '../drivers/driver-registry.js';
import type { SessionCookie, SessionDriver } from '../drivers/session-driver.js';
import { Session } from '../session.js';
import { SessionStoreUnavailableError } from '../session.errors.js';
import type { ResolvedSessionOptions } from '../session.options.js';
import { readCookies, type CookieJar, type CookieWriter } from './cookies.js';
import { Facade, type CookieView, type FacadeHost } from './session-facade.js';
import { gateResponse, type CommitResult, type Committer } from './response-gate.js';

/** Marks a request prototype whose `session` is an accessor (Express's `app.request`). */
export const SESSION_ACCESSOR = Symbol('nest-session:request');

/**
 * The flash rule: a response whose final status is 2xx consumes the flash its request saw, unless
 * the route keeps flash. Every GraphQL response is a 200, so a GraphQL request consumes only the
 * flash it read, never what it flashed: a mutation's flash reaches the next operation that reads it.
 */
export function clearsFlash(status: number, keepsFlash: boolean, graphql = false): FlashConsumption {
  if (status < 200 || status >= 300 || keepsFlash) return false;
  return graphql ? 'read' : true;
}

export class SessionLifecycle {
  readonly defaultDriver: string;
  /** Whether a request's URL is the GraphQL endpoint's (realtime/graphql.ts, at start-up); none without GraphQL. */
  isGraphql: ((url: string) => boolean) | undefined;

  constructor(
    readonly options: ResolvedSessionOptions,
    private readonly registry: DriverRegistry,
    private readonly cookies: CookieWriter,
  ) {
    this.defaultDriver = options.driver;
  }

  /** Steps 1-5 for one request; `secure` says whether it came over https (as the app trusts proxies). */
  handle(
    req: IncomingMessage & { session?: unknown },
    res: ServerResponse,
    secure: () => boolean,
    next: () => void,
  ): void {
    // 2. Cookies.
    const cookies = readCookies(req.headers.cookie);
    const ctx = new RequestContext(this, cookies, secure, this.options.clock());
    if (this.isGraphql !== undefined && req.url !== undefined) ctx.graphql = this.isGraphql(req.url);
    if (!(SESSION_ACCESSOR in req)) req.session = ctx.session();
    // 4. The gate, before anything can write.
    gateResponse(res, ctx, errorResponse);
    // 3. Load.
    let loading: Promise<void>[] | undefined;
    for (const cookieName in cookies) {
      const driverName = this.registry.driverOfCookie(cookieName);
      if (driverName === undefined) continue;
      const adopt = (state: SessionState) => void ctx.states.set(driverName, state);
      let loaded: Promise<SessionState> | SessionState;
      try {
        loaded = this.registry.resolve(driverName).load(cookies[cookieName], ctx.now);
      } catch (error) {
        loaded = SessionState.failed(driverName, error);
      }
      if (loaded instanceof Promise) {
        (loading ??= []).push(
          loaded.then(adopt, (error: unknown) => adopt(SessionState.failed(driverName, error))),
        );
      } else {
        adopt(loaded);
      }
    }
    // 5. The rest of the request, in the context.
    const run = () => requestScope.run(ctx, next);
    if (loading === undefined) run();
    else (loading.length === 1 ? loading[0] : Promise.all(loading)).then(run);
  }

  /** @internal for RequestContext */
  driver(name: string): SessionDriver {
    return this.registry.resolve(name);
  }

  /** @internal the Set-Cookie value for a driver's cookie decision. */
  setCookie(driver: SessionDriver, cookie: SessionCookie, secure: boolean): string {
    return cookie === 'clear'
      ? this.cookies.clear(driver.cookieName, secure)
      : this.cookies.set(driver.cookieName, cookie.value, new Date(cookie.expires), secure);
  }
}

/** Everything one request knows about its sessions, one state per driver it used: its request scope. */
export class RequestContext implements RequestScope, Committer, FacadeHost {
  readonly states = new Map<string, SessionState>();
  /** Set by FlashInterceptor on @KeepFlash() routes: this response never clears flash. */
  keepsFlash = false;
  /** The request is for the GraphQL endpoint: its response consumes only the flash it read. */
  graphql = false;
  private facade: Facade | undefined;

  constructor(
    private readonly lifecycle: SessionLifecycle,
    readonly cookies: CookieJar,
    private readonly isSecure: () => boolean,
    readonly now: number,
  ) {}

  get defaultDriver(): string {
    return this.lifecycle.defaultDriver;
  }

  /** `req.session` (session-facade.ts): the default driver's session bound to this request, made when first asked for. */
  session(): Record<string, any> {
    return (this.facade ??= new Facade(this)).proxy;
  }

  /** @internal FacadeHost */
  defaultState(): SessionState {
    return usableState(this.lifecycle.defaultDriver, this);
  }

  /** @internal FacadeHost */
  defaultSession(): Session {
    return new Session(this.lifecycle.defaultDriver, this);
  }

  /** @internal FacadeHost: `req.session.cookie`. */
  cookieView(): CookieView {
    const { cookie, lifetime } = this.lifecycle.options;
    const expires = (this.defaultState().createdAt ?? this.now) + lifetime;
    return {
      path: cookie.path,
      domain: cookie.domain,
      httpOnly: cookie.httpOnly,
      secure: cookie.secure,
      sameSite: cookie.sameSite,
      expires: new Date(expires),
      maxAge: expires - this.lifecycle.options.clock(),
      originalMaxAge: lifetime,
    };
  }

  /** The state kept by a driver; a driver whose cookie the request did not bring starts empty. */
  state(driver: string): SessionState {
    let state = this.states.get(driver);
    if (state === undefined) {
      state = new SessionState(undefined, undefined, newSessionId);
      this.states.set(driver, state);
    }
    return state;
  }

  /** Step 6. */
  commit(status: number): CommitResult {
    this.facade?.sync();
    if (this.states.size === 0) return NOTHING;
    const consume = clearsFlash(status, this.keepsFlash, this.graphql);
    const entries: Array<readonly [SessionDriver, SessionState]> = [];
    for (const [name, state] of this.states) {
      if (state.failure === undefined) entries.push([this.lifecycle.driver(name), state]);
    }
    // Drivers that may refuse go first, so a refused response writes nothing.
    if (entries.length > 1)
      entries.sort(([a], [b]) => Number(b.mayRefuse === true) - Number(a.mayRefuse === true));
    const cookies: string[] = [];
    let secure: boolean | undefined;
    let pending: Promise<unknown>[] | undefined;
    for (const [driver, state] of entries) {
      const out = driver.commit({
        state,
        consume,
        hadCookie: this.cookies[driver.cookieName] !== undefined,
        secure: (secure ??= this.isSecure()),
        now: this.now,
      });
      if (out.failure !== undefined) return { cookies: [], pending: undefined, failure: out.failure };
      if (out.cookie !== undefined) cookies.push(this.lifecycle.setCookie(driver, out.cookie, secure));
      if (out.pending !== undefined) (pending ??= []).push(out.pending);
    }
    return {
      cookies,
      pending: pending === undefined ? undefined : pending.length === 1 ? pending[0] : Promise.all(pending),
    };
  }
}

const NOTHING: CommitResult = Object.freeze({ cookies: [], pending: undefined }) as CommitResult;

/** Step 7's error body: what Nest's default exception filter would send for the error. */
export function errorResponse(error: unknown): { status: number; body: object } {
  const http = error instanceof HttpException ? error : new SessionStoreUnavailableError('session', error);
  const response = http.getResponse();
  const status = http.getStatus();
  return {
    status,
    body: typeof response === 'object' ? response : { statusCode: status, message: response },
  };
}
