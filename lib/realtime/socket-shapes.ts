/**
 * What nest-session needs of a WebSocket library, one shape a library: the request a socket connected
 * with (its Cookie header), how to close a socket whose session ended, how to tell it of an error, and
 * where its handshake can wait for the session to load. Chosen by the shape of the server an adapter
 * creates, so Nest's IoAdapter and WsAdapter, their subclasses (a Redis IoAdapter) and the NestJS docs'
 * hand-written ws adapter need nothing; nothing here imports socket.io or ws.
 */
import type { IncomingMessage } from 'node:http';

/**
 * How a WebSocket library's sockets are reached (`SessionSockets.adapter(adapter, shape)`), for an
 * adapter whose servers are neither socket.io's nor ws's.
 */
export interface SocketShape<Client = any> {
  /**
   * The request the client connected with (its Cookie header is read), given the client and the
   * other arguments of the connection the adapter reported.
   */
  request(client: Client, args: readonly unknown[]): IncomingMessage | undefined;
  /** Closes a client whose session ended. */
  close(client: Client): void;
  /** Calls `listener` once the client has gone. */
  onClose(client: Client, listener: () => void): void;
  /** Sends the client an error, as Nest's exception filter does ('exception'); optional. */
  exception?(client: Client, body: object): void;
}

/** A shape with a handshake: the session is loaded before the socket can send a message. */
export interface HandshakeShape extends SocketShape {
  /**
   * Makes the server's handshakes wait for `handshake()`, which continues them (in the handshake's
   * request scope) once the session is loaded.
   */
  watch(server: any, handshake: Handshake): void;
  /** What a connection is found by, from the adapter's connection arguments. */
  key(args: readonly unknown[]): object | undefined;
}

/** Loads a handshake's sessions, kept under `key` for the connection; `then` continues the handshake. */
export type Handshake = (key: object, request: IncomingMessage, then: (error?: Error) => void) => void;

/** The WebSocket close code of a socket whose session ended (the 4000s are the application's; 4401 as graphql-ws's "Unauthorized"). */
export const SESSION_ENDED_CODE = 4401;

interface IoSocket {
  request: IncomingMessage;
  emit(event: string, data: unknown): unknown;
  disconnect(close?: boolean): unknown;
  once(event: string, listener: () => void): unknown;
  connected?: boolean;
}

/** socket.io: a namespace's middleware (`use`) holds the handshake; `disconnect(true)` closes the connection. */
const SOCKET_IO: HandshakeShape = {
  watch(server: { use(fn: (socket: IoSocket, next: (error?: Error) => void) => void): unknown }, handshake) {
    server.use((socket, next) => handshake(socket, socket.request, next));
  },
  key: (args) => args[0] as object,
  request: (client: IoSocket) => client.request,
  close: (client: IoSocket) => void client.disconnect(true),
  onClose: (client: IoSocket, listener) => void client.once('disconnect', listener),
  exception: (client: IoSocket, body) => void client.emit('exception', body),
};

interface WsSocket {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  once(event: string, listener: () => void): unknown;
}
type Upgrade = (
  req: IncomingMessage,
  socket: unknown,
  head: unknown,
  done: (...a: unknown[]) => void,
) => void;

/** ws: the server's handleUpgrade holds the handshake (the 101 waits); the upgrade request comes with 'connection'. */
const WS: HandshakeShape = {
  watch(server: { handleUpgrade: Upgrade }, handshake) {
    const upgrade = server.handleUpgrade;
    server.handleUpgrade = function (this: unknown, req, socket, head, done) {
      handshake(req, req, (error) =>
        error === undefined
          ? upgrade.call(this, req, socket, head, done)
          : (socket as { destroy(): void }).destroy(),
      );
    };
  },
  key: (args) => args[1] as object | undefined,
  request: (_client, args) => args[1] as IncomingMessage | undefined,
  close: (client: WsSocket) => client.close(SESSION_ENDED_CODE, 'session ended'),
  onClose: (client: WsSocket, listener) => void client.once('close', listener),
  exception(client: WsSocket, body) {
    if (client.readyState === 1) client.send(JSON.stringify({ event: 'exception', data: body }));
  },
};

/** The shape of the servers an adapter created, known by their methods; undefined: another library's. */
export function shapeOfServer(server: unknown): HandshakeShape | undefined {
  if (typeof server !== 'object' || server === null) return undefined;
  const s = server as Record<string, unknown>;
  if (typeof s.handleUpgrade === 'function') return WS;
  if (typeof s.use === 'function' && typeof s.to === 'function' && typeof s.emit === 'function')
    return SOCKET_IO;
  return undefined;
}

/** Whether the shape holds handshakes (socket.io's and ws's do; one given by an app may not). */
export function hasHandshake(shape: SocketShape): shape is HandshakeShape {
  return typeof (shape as Partial<HandshakeShape>).watch === 'function';
}
