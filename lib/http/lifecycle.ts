/**
 * THE request lifecycle, top to bottom:
 *
 *  1. Entry: the adapter's glue calls `handle()` as the request arrives, before the app's
 *     middleware (express.adapter.ts, fastify.adapter.ts; nest-middleware.ts for other adapters).
 *  2. Read the cookies.
 *  3. Load each driver whose cookie came (cookie name -> driver: driver-registry.ts). A driver that
 *     can tell what an unused session's commit needs from its cookie (the memory store) is loaded on
 *     first use, synchronously; the others are awaited together, before the app's code runs. A load
 *     that fails becomes a failed state: the routes that use that session answer 503, the rest work.
 *     With `migrateFrom`, a request that brings no default-driver cookie but an old library's cookie
 *     loads the session moved from it (migration/migration.ts).
 *  4. Gate the response (response-gate.ts): nothing of it leaves before the commit is decided.
 *  5. Run the rest of the request (middleware, guards, handler, filters) in the request scope
 *     (core/request-scope.ts), where `Session`, `@Flash()` and `req.session` find its sessions.
 *  6. Commit, once, at the first head or body write, with the status the response is sent with:
 *     the flash rule (`clearsFlash`) decides what of the flash this request saw is consumed; a session
 *     loaded on first use that nothing used is loaded now only when its commit does something; each
 *     driver turns its state into a cookie decision and store work (drivers that may refuse go
 *     first); the cookies are written here, through one CookieWriter (a migration adds the moved
 *     session's cookie, clears the old one and destroys the old record).
 *  7. The gate holds head, body and end until the store work is done, then releases them, or
 *     replaces the response with the error's body (503 store unavailable, 500 too large, 409 conflict).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestScope, usableState, type RequestScope } from '../core/request-scope.js';
import { SessionState } from '../core/session-state.js';
import { thenTell, type Ended, type SessionEnded } from '../core/sessions-ended.js';
import { newSessionId } from '../crypto/keyring.js';
import type { DriverRegistry, LoadSink } from '../drivers/driver-registry.js';
import type { SessionCookie, SessionDriver } from '../drivers/session-driver.js';
import { CommitReport } from '../events/commit-report.js';
import type { SessionEventSink } from '../events/session-event.js';
import type { MigratingRequest, Migration } from '../migration/migration.js';
import { Session, type SessionServices } from '../session.js';
import type { ResolvedSessionOptions } from '../session.options.js';
import { requestCookies, type CookieJar, type CookieWriter } from './cookies.js';
import { cookieView, type CookieView, type FacadeHost } from './facade-host.js';
import { DeferredSessions } from './deferred-sessions.js';
import { Facade } from './session-facade.js';
import { SESSION_ACCESSOR, type ClientView } from './client-view.js';
import { errorResponse, gateResponse, type CommitResult, type Committer } from './response-gate.js';
import { AFTER_HEAD, AFTER_RESPONSE, REFUSED } from './refusals.js';
import { clearsFlash } from '../core/flash-rule.js';

export class SessionLifecycle {
  readonly defaultDriver: string;
  /** Whether a request's URL is the GraphQL endpoint's (realtime/graphql.ts, at start-up); none without GraphQL. */
  isGraphql: ((url: string) => boolean) | undefined;
  /** Told of each session a commit ended (realtime/sockets.ts closes its sockets). */
  sessionEnded: SessionEnded | undefined;
  /** Where commits are reported (SessionEvents, set by SessionManager); a report is made only while it listens. */
  events: SessionEventSink | undefined;

  constructor(
    readonly options: ResolvedSessionOptions,
    private readonly registry: DriverRegistry,
    private readonly cookies: CookieWriter,
    readonly services: SessionServices,
    /** `migrateFrom`, when configured. */
    private readonly migration?: Migration,
  ) {
    this.defaultDriver = options.driver;
  }

  /**
   * Steps 1-5 for one request. `client` is the adapter's request object, read through `view` (whether
   * it came over https, and the client's address, as the app trusts proxies).
   */
  handle<C>(
    req: IncomingMessage & { session?: unknown },
    res: ServerResponse,
    client: C,
    view: ClientView<C>,
    next: () => void,
  ): void {
    // 2. Cookies.
    const cookies = requestCookies(req);
    const ctx = new RequestContext(this, cookies, req, client, view, this.options.clock());
    if (this.isGraphql !== undefined && req.url !== undefined) ctx.graphql = this.isGraphql(req.url);
    if (!(SESSION_ACCESSOR in req)) req.session = ctx.session();
    // 4. The gate, before anything can write.
    gateResponse(res, ctx, errorResponse);
    // 3. Load.
    let loading = this.registry.loadCookies(cookies, ctx.now, ctx);
    // 3. A migration: no default-driver cookie, an old library's that verifies.
    if (this.migration !== undefined && cookies[this.options.cookie.name] === undefined) {
      const migrating = (ctx.migrating = this.migration.start(cookies, ctx.now));
      if (migrating !== undefined) {
        (loading ??= []).push(migrating.loaded.then((state) => ctx.adopt(this.defaultDriver, state)));
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
      : this.cookies.set(driver.cookieName, cookie.value, cookie.expires, secure);
  }
}

/** Everything one request knows about its sessions, one state per driver it used: its request scope. */
export class RequestContext implements RequestScope, Committer, FacadeHost, LoadSink {
  private states: Map<string, SessionState> | undefined; // per driver used; made with the first
  /** Set by FlashInterceptor on @KeepFlash() routes: this response never clears flash. */
  keepsFlash = false;
  migrating: MigratingRequest | undefined; // the request brought an old library's cookie (migrateFrom)
  /** The request is for the GraphQL endpoint: its response consumes only the flash it read. */
  graphql = false;
  noTouch = false; // set on @NoTouch() routes (NoTouchInterceptor): an unchanged session is not extended
  private facade: Facade | undefined;
  /** Once committed: the states whose later changes the late commit keeps (step 7). */
  private late: Array<readonly [SessionDriver, SessionState]> | undefined;
  /** Why a session first used after the response was refused or ended can take no change. */
  private closedBecause = AFTER_HEAD;
  deferred: DeferredSessions | undefined; // @internal sessions loaded on first use, not loaded yet (step 3)

  constructor(
    private readonly lifecycle: SessionLifecycle,
    readonly cookies: CookieJar,
    private readonly req: IncomingMessage,
    private readonly client: unknown,
    private readonly view: ClientView<any>,
    readonly now: number,
  ) {}

  /** What the request says of its client: the User-Agent header and the address. */
  device(): { userAgent: string | undefined; ip: string | undefined } {
    return { userAgent: this.req.headers['user-agent'], ip: this.view.ip(this.client) };
  }

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
    return new Session(this.lifecycle.defaultDriver, this.lifecycle.services, this);
  }

  /** @internal FacadeHost: `req.session.cookie`. */
  cookieView(): CookieView {
    return cookieView(this.lifecycle.options, this.defaultState().createdAt ?? this.now);
  }

  /** @internal LoadSink (step 3): a session loaded as the request arrived. */
  adopt(name: string, state: SessionState): void {
    (this.states ??= new Map()).set(name, state);
  }

  /** @internal LoadSink (step 3): a session loaded on first use. */
  defer(name: string, driver: SessionDriver, cookie: string): void {
    (this.deferred ??= new DeferredSessions()).add(name, driver, cookie);
  }

  existing(driver: string): SessionState | undefined {
    return this.states?.get(driver) ?? this.loadDeferred(driver);
  }

  /** Loads a deferred session, if one waits; first used after the commit, it is committed as it was (unused). */
  private loadDeferred(name: string): SessionState | undefined {
    const [driver, state] = this.deferred?.load(name, this.now) ?? NOT_WAITING;
    if (driver === undefined) return undefined;
    this.adopt(name, state);
    const late = this.late;
    if (late === NONE) state.committed(this.closedBecause);
    else if (late !== undefined && state.failure === undefined) {
      const secure = this.view.secure(this.client);
      driver.commit({ state, consume: false, hadCookie: true, secure, now: this.now, noTouch: true });
      if (state.acceptsLate) late.push([driver, state]);
    }
    return state;
  }

  /** The state kept by a driver; a driver whose cookie the request did not bring starts empty. */
  state(driver: string): SessionState {
    let state = this.existing(driver);
    if (state === undefined) {
      state = new SessionState(undefined, undefined, newSessionId);
      // First used after the commit: no cookie for it can reach the client any more.
      if (this.late !== undefined) state.committed(AFTER_HEAD);
      this.adopt(driver, state);
    }
    return state;
  }

  /** Step 6. */
  commit(status: number): CommitResult {
    // req.session's nested changes join the change set; one JSON cannot keep refuses the response.
    const invalid = this.facade?.syncForCommit();
    if (invalid !== undefined) {
      this.refused();
      return { cookies: [], pending: undefined, failure: invalid };
    }
    const consume = clearsFlash(status, this.keepsFlash, this.graphql);
    for (const name of this.deferred?.due(consume, this.now, this.noTouch) ?? NO_DUE) this.loadDeferred(name);
    const states = this.states;
    if (states === undefined && this.migrating === undefined) {
      this.late = this.deferred === undefined || this.deferred.size === 0 ? NONE : [];
      return NOTHING;
    }
    const entries: Array<readonly [SessionDriver, SessionState]> = [];
    for (const [name, state] of states ?? NO_STATES) {
      if (state.failure === undefined) entries.push([this.lifecycle.driver(name), state]);
    }
    // Drivers that may refuse go first, so a refused response writes nothing.
    if (entries.length > 1)
      entries.sort(([a], [b]) => Number(b.mayRefuse === true) - Number(a.mayRefuse === true));
    const report = CommitReport.start(this.lifecycle.events, this.now, this.lifecycle.services.handle);
    const cookies: string[] = [];
    let secure: boolean | undefined;
    let pending: Promise<unknown>[] | undefined;
    const late: Array<readonly [SessionDriver, SessionState]> = [];
    let ended: Ended[] | undefined;
    for (const entry of entries) {
      const [driver, state] = entry;
      const out = driver.commit({
        state,
        consume,
        hadCookie: this.cookies[driver.cookieName] !== undefined,
        secure: (secure ??= this.view.secure(this.client)),
        now: this.now,
        noTouch: this.noTouch,
        report,
      });
      if (out.failure !== undefined) {
        report?.refused(driver.name, state, out.failure);
        for (const [, refused] of entries) refused.committed(REFUSED);
        this.refused();
        return { cookies: [], pending: undefined, failure: out.failure };
      }
      const cookie = out.cookie ?? this.migrating?.cookie(driver, state);
      if (cookie !== undefined) cookies.push(this.lifecycle.setCookie(driver, cookie, secure));
      report?.session(driver.name, state, out.cookie);
      if (out.pending !== undefined)
        (pending ??= []).push(report?.watch(out.pending, driver.name, state) ?? out.pending);
      if (state.acceptsLate) late.push(entry);
      if (state.previousId !== undefined) (ended ??= []).push([driver.name, state.previousId]);
    }
    this.late = late;
    if (this.migrating !== undefined) {
      const old = this.migrating.commit();
      cookies.push(...old.cookies);
      if (old.pending !== undefined) (pending ??= []).push(old.pending);
    }
    const work = pending === undefined ? undefined : pending.length === 1 ? pending[0] : Promise.all(pending);
    const settled = report === undefined ? work : report.settle(work); // events after the work
    return { cookies, pending: thenTell(settled, ended, this.lifecycle.sessionEnded) };
  }

  private refused(): void {
    this.late = NONE;
    this.closedBecause = REFUSED;
  }

  /**
   * Step 7, at the response's end: the changes made after the head (a streamed body, SSE, an
   * interceptor's finalize), kept by a late commit the end waits for; afterwards nothing can change.
   */
  finish(): Promise<unknown> | undefined {
    const late = this.late;
    if (late === undefined || late === NONE) return undefined;
    this.late = NONE;
    this.closedBecause = AFTER_RESPONSE;
    this.facade?.sync();
    let pending: Promise<unknown>[] | undefined;
    for (const [driver, state] of late) {
      const work = state.modified ? driver.commitLate!(state, this.now) : undefined;
      state.committed(AFTER_RESPONSE);
      if (work !== undefined) (pending ??= []).push(work);
    }
    return pending === undefined ? undefined : pending.length === 1 ? pending[0] : Promise.all(pending);
  }
}

const NOTHING: CommitResult = Object.freeze({ cookies: [], pending: undefined }) as CommitResult;
const NONE: Array<readonly [SessionDriver, SessionState]> = [];
const NOT_WAITING = [undefined, undefined] as const;
const NO_DUE: readonly string[] = [];
const NO_STATES: ReadonlyMap<string, SessionState> = new Map();
