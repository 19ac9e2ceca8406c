/**
 * A socket's request scope: the sessions of one WebSocket message (or of the handshake and
 * handleConnection), loaded from the cookies the socket connected with, where `Session`,
 * `SessionManager.driver()` and `client.request.session` find them. No cookie can reach the client
 * over a socket, so a session may change only where its cookie need not: a live record of a
 * server-side driver takes changes (committed as the handler finishes, as a late commit is on HTTP),
 * but not a new id, user or policy; a new session, a retired one and the cookie driver's are read-only.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestScope } from '../core/request-scope.js';
import { SessionState } from '../core/session-state.js';
import { newSessionId } from '../crypto/keyring.js';
import type { SessionDriver } from '../drivers/session-driver.js';
import type { CookieJar } from '../http/cookies.js';
import type { SessionLifecycle } from '../http/lifecycle.js';
import type { CookieView, FacadeHost } from '../http/facade-host.js';
import { Facade } from '../http/session-facade.js';
import type { SessionManager } from '../session-manager.js';
import { Session } from '../session.js';

/** Why a session cannot change on a socket, by what it is. */
export const READ_ONLY = {
  cookie:
    'the cookie driver keeps the session in its cookie, which a WebSocket message cannot send: change it over HTTP',
  none: 'this socket has no live session, and a WebSocket message cannot start one (no cookie can reach the client): start it over HTTP, then connect',
  id: "a WebSocket message cannot send a cookie, so the session's id, user, policy and flash rule stay as they are: regenerate(), signIn(), signOut() and destroy() belong to HTTP routes (SessionRegistry.revoke() works anywhere)",
  handler:
    'its WebSocket handler has finished and its changes were kept: change the session while a handler runs (what it starts without awaiting runs after)',
  connection:
    'handleConnection has finished and its changes were kept: change the session in a message handler',
} as const;

export class SocketScope implements RequestScope, FacadeHost {
  readonly states = new Map<string, SessionState>();
  /** No flash is consumed over a socket: the flag FlashInterceptor sets changes nothing. */
  keepsFlash = false;
  /** @NoTouch() is for HTTP polls: a socket's first commit extends its session as a request's does. */
  noTouch = false;
  private facade: Facade | undefined;
  /** Committed once: later commits keep only what changed (no second touch). */
  private committedOnce = false;

  private constructor(
    private readonly manager: SessionManager,
    readonly request: IncomingMessage,
    readonly now: number,
  ) {}

  /** The sessions of the cookies a socket connected with, as the store holds them now. */
  static load(
    manager: SessionManager,
    request: IncomingMessage,
    cookies: CookieJar,
  ): SocketScope | Promise<SocketScope> {
    const scope = new SocketScope(manager, request, manager.options.clock());
    const loading = manager.registry.loadCookies(cookies, scope.now, {
      adopt: (name, state, driver) => void scope.states.set(name, prepare(driver, state)),
    });
    if (loading === undefined) return scope;
    return Promise.all(loading).then(() => scope);
  }

  private get lifecycle(): SessionLifecycle {
    return this.manager.lifecycle;
  }

  get defaultDriver(): string {
    return this.lifecycle.defaultDriver;
  }

  device(): { userAgent: string | undefined; ip: string | undefined } {
    return { userAgent: this.request.headers['user-agent'], ip: this.request.socket?.remoteAddress };
  }

  existing(driver: string): SessionState | undefined {
    return this.states.get(driver);
  }

  /** A driver the socket brought no cookie for has no session here, and cannot start one. */
  state(driver: string): SessionState {
    let state = this.states.get(driver);
    if (state === undefined) {
      state = new SessionState(undefined, undefined, newSessionId);
      state.committed(READ_ONLY.none);
      this.states.set(driver, state);
    }
    return state;
  }

  /** `client.request.session`: the default driver's session in express-session's language. */
  session(): Record<string, any> {
    return (this.facade ??= new Facade(this)).proxy;
  }

  /** @internal FacadeHost */
  defaultState(): SessionState {
    const state = this.state(this.defaultDriver);
    if (state.failure) throw state.failure;
    return state;
  }

  /** @internal FacadeHost */
  defaultSession(): Session {
    return new Session(this.defaultDriver, this.lifecycle.services, this);
  }

  /** @internal FacadeHost: `session.cookie`, the cookie the socket connected with. */
  cookieView(): CookieView {
    const { cookie, lifetime, clock } = this.lifecycle.options;
    const expires = (this.defaultState().createdAt ?? this.now) + lifetime;
    const { path, domain, httpOnly, secure, sameSite } = cookie;
    return {
      path,
      domain,
      httpOnly,
      secure,
      sameSite,
      expires: new Date(expires),
      maxAge: expires - clock(),
      originalMaxAge: lifetime,
    };
  }

  /**
   * Keeps what changed since the last commit (the first one also touches the session when its idle
   * timeout needs it): the store work to wait for, if any. Throws or rejects with what refused it
   * (503 store unavailable, 500 too large, 409 the session was retired meanwhile).
   */
  commit(): Promise<void> | undefined {
    const invalid = this.facade?.syncForCommit();
    if (invalid !== undefined) throw invalid;
    const first = !this.committedOnce;
    this.committedOnce = true;
    let pending: Promise<unknown>[] | undefined;
    for (const [name, state] of this.states) {
      if (state.failure !== undefined || !state.acceptsLate || (!first && !state.modified)) continue;
      const out = this.lifecycle.driver(name).commit({
        state,
        consume: false,
        hadCookie: true,
        secure: false,
        now: this.now,
      });
      if (out.failure !== undefined) throw out.failure;
      if (out.pending !== undefined) (pending ??= []).push(out.pending);
    }
    return pending === undefined ? undefined : Promise.all(pending).then(() => undefined);
  }

  /** From now on every change throws SESSION_READ_ONLY with this reason. */
  seal(reason: string): void {
    for (const state of this.states.values()) if (state.acceptsLate) state.committed(reason);
  }
}

/** What a session loaded for a socket may do (see the file's comment). */
function prepare(driver: SessionDriver | undefined, state: SessionState): SessionState {
  if (state.failure !== undefined || driver === undefined) return state;
  if (driver.store === undefined) state.committed(READ_ONLY.cookie);
  else if (!state.hasStoredRecord) state.committed(READ_ONLY.none);
  else state.committed(undefined, READ_ONLY.id);
  return state;
}

/** Whether a socket's session is still there: true, false (ended, expired, retired), or undefined (the store failed). */
export function isLive(state: SessionState | undefined): boolean | undefined {
  if (state === undefined) return false;
  if (state.failure !== undefined) return undefined;
  return !state.isNew;
}
