/**
 * WebSocket gateways' glue (socket-connection.ts follows one socket). Nest hands every gateway's
 * sockets to the app's WebSocket adapter: `create()` makes the server, `bindClientConnect()` gets
 * the callback that calls handleConnection, `bindMessageHandlers()` gets, for each message, Nest's
 * whole callback (guards, pipes, interceptors, the handler, filters). So this glue wraps those three
 * methods of the adapter, once, as the app sets it (`ApplicationConfig.setIoAdapter`, which both
 * `app.useWebSocketAdapter()` and Nest's default IoAdapter go through): no set-up, and
 * @nestjs/websockets is never imported. Two other places were weighed. A server middleware alone
 * (socket.io's `use`, ws's upgrade) gives the handshake's session but cannot run each message in a
 * scope of its own nor know when a handler has finished; a global interceptor would cost every HTTP
 * route and runs after guards. handleConnection's promise, which Nest drops, is awaited by wrapping
 * the gateways' handleConnection as the first server is created.
 */
import { Injectable, type OnApplicationShutdown, type WebSocketAdapter } from '@nestjs/common';
import { ApplicationConfig, ModulesContainer } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { requestScope } from '../core/request-scope.js';
import { SessionManager } from '../session-manager.js';
import { LiveSockets } from './live-sockets.js';
import { SocketConnection } from './socket-connection.js';
import { hasHandshake, shapeOfServer, type SocketShape } from './socket-shapes.js';

/** @nestjs/websockets' GATEWAY_METADATA: what marks a gateway's class. */
const GATEWAY_METADATA = 'websockets:is_gateway';
/** Marks an adapter, or a gateway's handleConnection, this glue has wrapped. */
const WRAPPED = Symbol('nest-session:sockets');

type Callback = (...args: any[]) => any;
type Handler = { callback: Callback };
type Opened = SocketConnection | Promise<SocketConnection>;

/**
 * The session in WebSocket gateways: in handleConnection, in every message handler (guards
 * included) and on `client.request.session`, each message loaded fresh from the store and its
 * changes committed when its handler finishes; sockets whose session ended are disconnected.
 * Nothing to set up with Nest's socket.io and ws adapters, or any adapter whose servers are
 * socket.io's or ws's; `adapter(adapter, shape)` hooks one of another kind.
 */
@Injectable()
export class SessionSockets implements OnApplicationShutdown {
  /** @internal */
  readonly manager: SessionManager;
  /** @internal */
  readonly live: LiveSockets;
  /** Handshakes by what their connection will be found by (socket.io's socket, ws's request). */
  private readonly handshakes = new WeakMap<object, Opened>();
  /** Connected sockets. */
  private readonly connections = new WeakMap<object, SocketConnection>();
  private readonly shapes = new WeakMap<object, SocketShape>();
  private gatewaysWrapped = false;

  /** @internal */
  constructor(
    manager: SessionManager,
    config: ApplicationConfig,
    private readonly modules: ModulesContainer,
  ) {
    this.manager = manager;
    this.live = new LiveSockets(manager, manager.options.sockets.checkInterval);
    manager.lifecycle.sessionEnded = (driver, id) => this.live.ended(driver, id);
    const setIoAdapter = config.setIoAdapter;
    config.setIoAdapter = (adapter) => setIoAdapter.call(config, this.adapter(adapter));
    const current = config.getIoAdapter() as WebSocketAdapter | null | undefined;
    if (current) this.adapter(current);
  }

  /**
   * Gives an adapter's gateways the session. Done by itself for the adapter the app uses; call it
   * for an adapter whose servers are neither socket.io's nor ws's, with how its sockets are reached:
   * `app.useWebSocketAdapter(app.get(SessionSockets).adapter(new MyAdapter(app), shape))`.
   */
  adapter<A extends WebSocketAdapter>(adapter: A, shape?: SocketShape): A {
    const target = adapter as A & Record<PropertyKey, unknown>;
    if (target[WRAPPED] !== undefined) return adapter;
    Object.defineProperty(target, WRAPPED, { value: true });
    const { create, bindClientConnect, bindMessageHandlers, bindClientDisconnect } =
      target as unknown as Record<string, Callback | undefined>;
    // As own methods of the adapter, which call its own with the adapter as `this`.
    Object.assign(target, {
      create: (...args: unknown[]) => {
        const server: unknown = create!.apply(target, args);
        this.watch(server, shape);
        return server;
      },
      bindClientConnect: (server: object, callback: Callback) =>
        bindClientConnect!.call(target, server, this.connected(server, callback, shape)),
      bindMessageHandlers: (client: object, handlers: Handler[], ...rest: unknown[]) =>
        bindMessageHandlers!.call(target, client, this.messages(client, handlers), ...rest),
    });
    if (bindClientDisconnect !== undefined) {
      // handleDisconnect sees the session the socket connected with.
      target.bindClientDisconnect = (client: object, callback: Callback) => {
        const connection = this.connections.get(client);
        const inScope = (...args: unknown[]) => requestScope.run(connection!.scope, () => callback(...args));
        return bindClientDisconnect.call(target, client, connection === undefined ? callback : inScope);
      };
    }
    return adapter;
  }

  onApplicationShutdown(): void {
    this.live.stop();
  }

  /** A server the adapter created: its handshakes load the session first, when its library allows. */
  private watch(server: unknown, given: SocketShape | undefined): void {
    this.wrapGateways();
    const shape = given ?? shapeOfServer(server);
    if (shape === undefined || typeof server !== 'object' || server === null || this.shapes.has(server))
      return;
    this.shapes.set(server, shape);
    if (!hasHandshake(shape)) return;
    shape.watch(server, (key, request, then) => {
      let opened: Opened;
      try {
        opened = SocketConnection.open(this, shape, request);
      } catch (error) {
        return then(error instanceof Error ? error : new Error(String(error)));
      }
      const go = (connection: SocketConnection) => {
        this.handshakes.set(key, connection);
        requestScope.run(connection.scope, () => then());
      };
      if (opened instanceof Promise) opened.then(go, then);
      else go(opened);
    });
  }

  /** The adapter's connection callback, run in the handshake's scope (opened now if none was seen). */
  private connected(server: object, callback: Callback, given: SocketShape | undefined): Callback {
    return (...args: unknown[]) => {
      const client = args[0];
      const shape = this.shapes.get(server) ?? given ?? shapeOfServer(server);
      if (shape === undefined || typeof client !== 'object' || client === null) return callback(...args);
      const key = hasHandshake(shape) ? shape.key(args) : undefined;
      let opened = key === undefined ? undefined : this.handshakes.get(key);
      if (opened !== undefined) this.handshakes.delete(key!);
      else {
        const request: IncomingMessage | undefined = shape.request(client, args);
        if (request === undefined) return callback(...args);
        opened = SocketConnection.open(this, shape, request);
      }
      const run = (connection: SocketConnection) => {
        this.connections.set(client, connection);
        connection.attach(client);
        connection.claim();
        try {
          return requestScope.run(connection.scope, () => callback(...args));
        } finally {
          // Every gateway on this server gets the connection in this turn; then it is committed,
          // unless a handleConnection still runs (it holds its own claim).
          queueMicrotask(() => connection.release());
        }
      };
      return opened instanceof Promise ? opened.then(run) : run(opened);
    };
  }

  /** Each message handler of a connected socket runs in a scope of its own. */
  private messages(client: object, handlers: Handler[]): Handler[] {
    const connection = this.connections.get(client);
    if (connection === undefined) return handlers;
    return handlers.map((handler) => ({
      ...handler,
      callback: (...args: unknown[]) => connection.message(() => handler.callback(...args)),
    }));
  }

  /**
   * handleConnection's promise, which Nest does not await, holds the handshake's scope open until it
   * settles. Done as the first server is created: Nest binds handleConnection right after.
   */
  private wrapGateways(): void {
    if (this.gatewaysWrapped) return;
    this.gatewaysWrapped = true;
    for (const module of this.modules.values()) {
      for (const { metatype, instance } of module.providers.values()) {
        if (typeof metatype !== 'function' || !Reflect.getMetadata(GATEWAY_METADATA, metatype)) continue;
        const gateway = instance as Record<PropertyKey, unknown> | null;
        const original = gateway?.handleConnection;
        if (typeof original !== 'function' || WRAPPED in original) continue;
        const connections = this.connections;
        const handleConnection = function (this: unknown, client: object, ...rest: unknown[]) {
          const connection = connections.get(client);
          if (connection === undefined) return original.call(this, client, ...rest);
          connection.claim();
          const release = () => connection.release();
          let result: unknown;
          try {
            result = original.call(this, client, ...rest);
          } catch (error) {
            release();
            throw error;
          }
          // Settled as Nest leaves it: a rejection stays unhandled.
          if (result instanceof Promise)
            void result.then(release, (error: unknown) => {
              release();
              throw error;
            });
          else release();
          return result;
        };
        Object.defineProperty(handleConnection, WRAPPED, { value: true });
        gateway!.handleConnection = handleConnection;
      }
    }
  }
}
