/**
 * One socket's way through the code, as lifecycle.ts is one request's:
 *
 *  1. Handshake (socket.io's middleware, ws's upgrade: socket-shapes.ts): the cookies of its request
 *     are read and their sessions loaded (socket-scope.ts) before the socket can send anything; the
 *     request gets express-session's `session` and `sessionID`. A default-driver session that is live
 *     binds the socket to it (live-sockets.ts).
 *  2. Connection: the adapter's connection callback (Nest's, which calls handleConnection) and
 *     handleConnection's promise run in the handshake's scope, committed once they are all done.
 *  3. Each message, once step 2's changes are kept: its sessions are loaded again, fresh from the
 *     store. A socket whose session ended since (signed out, revoked, destroyed, expired) is
 *     closed and the message dropped; else the handler (guards, pipes, interceptors, filters: all
 *     of Nest's callback) runs in that scope,
 *     its promise or observable is awaited, and its changes are committed before its result (the
 *     acknowledgement, the events it emits) goes out. A commit refused is an 'exception' to the
 *     client instead (409 also closes the socket: its session was retired).
 *  4. Close: the socket leaves the table of live sockets.
 */
import type { IncomingMessage } from 'node:http';
import { isObservable, Observable, type Subscription } from 'rxjs';
import { requestScope } from '../core/request-scope.js';
import { readCookies, type CookieJar } from '../http/cookies.js';
import { errorResponse } from '../http/response-gate.js';
import { SessionConflictError } from '../session.errors.js';
import type { SessionManager } from '../session-manager.js';
import type { LiveSockets } from './live-sockets.js';
import type { SocketShape } from './socket-shapes.js';
import { isLive, READ_ONLY, SocketScope } from './socket-scope.js';

/** What a connection needs of the module. */
export interface SocketsHost {
  readonly manager: SessionManager;
  readonly live: LiveSockets;
}

export class SocketConnection {
  /** The socket, once connected. */
  private client: unknown;
  private claims = 0;
  /** Step 2 runs, or its changes are being kept. */
  private connecting: { promise: Promise<void>; resolve: () => void } | undefined;
  private closed = false;
  /** The default driver's session the socket connected with, while it was live: its cookie and handle. */
  readonly bound: { cookie: string; handle: string } | undefined;

  private constructor(
    private readonly host: SocketsHost,
    readonly shape: SocketShape,
    readonly request: IncomingMessage,
    private readonly cookies: CookieJar,
    /** The handshake's scope, where handleConnection runs. */
    readonly scope: SocketScope,
  ) {
    const { options, services } = host.manager;
    const state = scope.existing(options.driver);
    const cookie = cookies[options.cookie.name];
    if (cookie !== undefined && isLive(state) === true)
      this.bound = { cookie, handle: services.handle(state!.id) };
    defineRequestSession(request, this);
  }

  /** Step 1: the handshake's sessions, loaded from its cookies. */
  static open(
    host: SocketsHost,
    shape: SocketShape,
    request: IncomingMessage,
  ): SocketConnection | Promise<SocketConnection> {
    const cookies = readCookies(request.headers.cookie);
    const scope = SocketScope.load(host.manager, request, cookies);
    const open = (loaded: SocketScope) => new SocketConnection(host, shape, request, cookies, loaded);
    return scope instanceof Promise ? scope.then(open) : open(scope);
  }

  /** Step 2: the socket is connected; it is closed when its session ends. */
  attach(client: unknown): void {
    if (this.client !== undefined) return;
    this.client = client;
    this.host.live.add(this);
    this.shape.onClose(client, () => {
      this.closed = true;
      this.host.live.remove(this);
    });
  }

  /** Something of step 2 runs: the handshake's scope is committed once all of it is done. */
  claim(): void {
    if (this.claims++ > 0 || this.connecting !== undefined) return;
    let resolve!: () => void;
    this.connecting = { promise: new Promise<void>((r) => (resolve = r)), resolve };
  }

  release(): void {
    if (--this.claims > 0) return;
    const scope = this.scope;
    void this.keep(scope).then(() => {
      scope.seal(READ_ONLY.connection);
      this.connecting?.resolve();
      this.connecting = undefined;
    });
  }

  /** Step 3: one message; what the adapter gets in place of the handler's result. */
  message(handle: () => unknown): Promise<unknown> {
    // A message that comes while step 2 runs waits for it: it sees what handleConnection changed.
    if (this.connecting !== undefined) return this.connecting.promise.then(() => this.message(handle));
    const loaded = SocketScope.load(this.host.manager, this.request, this.cookies);
    const run = async (scope: SocketScope) => {
      if (this.bound !== undefined && isLive(scope.existing(this.host.manager.options.driver)) === false) {
        this.end();
        return undefined;
      }
      let result: unknown;
      try {
        result = await requestScope.run(scope, handle);
      } catch (error) {
        await this.keep(scope);
        scope.seal(READ_ONLY.handler);
        throw error;
      }
      if (isObservable(result)) return this.observe(result, scope);
      const kept = await this.keep(scope);
      scope.seal(READ_ONLY.handler);
      return kept ? result : undefined;
    };
    return loaded instanceof Promise ? loaded.then(run) : run(loaded);
  }

  /** The socket's session ended: it is closed. */
  end(): void {
    this.host.live.remove(this);
    if (this.client !== undefined && !this.closed) {
      this.closed = true;
      this.shape.close(this.client);
    }
  }

  /**
   * An observable result: subscribed in the message's scope (what it does when subscribed sees the
   * session); each value waits for the changes made so far to be kept, and so does its end.
   */
  private observe(source: Observable<unknown>, scope: SocketScope): Observable<unknown> {
    return new Observable((subscriber) => {
      let queue: Promise<boolean> = Promise.resolve(true);
      const then = (next: () => void) => {
        queue = queue.then(async (going) => {
          if (!going) return false;
          if (await this.keep(scope)) {
            next();
            return true;
          }
          subscriber.complete();
          inner.unsubscribe();
          return false;
        });
      };
      const inner: Subscription = requestScope.run(scope, () =>
        source.subscribe({
          next: (value) => then(() => subscriber.next(value)),
          error: (error: unknown) => then(() => subscriber.error(error)),
          complete: () => then(() => subscriber.complete()),
        }),
      );
      return () => {
        inner.unsubscribe();
        void queue.then(() => scope.seal(READ_ONLY.handler));
      };
    });
  }

  /** Commits a scope: true once kept; false when refused, told to the client (a 409 also closes it). */
  private async keep(scope: SocketScope): Promise<boolean> {
    try {
      await scope.commit();
      return true;
    } catch (error) {
      if (this.client !== undefined && !this.closed)
        this.shape.exception?.(this.client, errorResponse(error).body);
      if (error instanceof SessionConflictError) this.end();
      return false;
    }
  }
}

/**
 * express-session's `session` and `sessionID` on the socket's request (socket.io's
 * `client.request.session`, ws's upgrade request): the session of the message being handled, or
 * outside one, the handshake's.
 */
function defineRequestSession(request: IncomingMessage, connection: SocketConnection): void {
  const session = () => {
    const scope = requestScope.getStore();
    return (scope instanceof SocketScope && scope.request === request ? scope : connection.scope).session();
  };
  Object.defineProperties(request, {
    session: { configurable: true, enumerable: true, get: session },
    sessionID: { configurable: true, get: () => (session() as { id?: unknown }).id },
  });
}
