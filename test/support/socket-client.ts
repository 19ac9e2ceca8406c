import { once } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { SocketLibrary } from './socket-app.js';

/** An event a socket received: its name and data. */
export interface Received {
  event: string;
  data: any;
}

/**
 * A client of either library with a Cookie header, as a browser's page would connect: every event it
 * receives is kept in order, so a test waits for one whether it came before or after it asked.
 */
export class TestSocket {
  private readonly received: Received[] = [];
  private waiters: Array<{ events: string[]; resolve: (r: Received) => void }> = [];
  /** Resolves once the server has closed the socket: the WebSocket close code, or socket.io's reason. */
  readonly closed: Promise<number | string>;

  private constructor(
    private readonly socket: Socket | WebSocket,
    closed: Promise<number | string>,
  ) {
    this.closed = closed;
  }

  static async connect(library: SocketLibrary, url: string, cookie?: string): Promise<TestSocket> {
    const headers: Record<string, string> = cookie === undefined ? {} : { cookie };
    if (library === 'socket.io') {
      const socket = io(url, {
        transports: ['websocket'],
        extraHeaders: headers,
        reconnection: false,
        forceNew: true,
      });
      const closed = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(reason)));
      const client = new TestSocket(socket, closed);
      socket.onAny((event: string, data: unknown) => client.receive({ event, data }));
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return client;
    }
    const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    const closed = once(socket, 'close').then(([code]) => code as number);
    const client = new TestSocket(socket, closed);
    socket.on('message', (raw) => client.receive(JSON.parse(raw.toString()) as Received));
    await once(socket, 'open');
    return client;
  }

  /** Sends an event and waits for the answer of the same name, or an 'exception'. */
  async ask(event: string, data: unknown = {}): Promise<Received> {
    const answer = this.next(event, 'exception');
    this.send(event, data);
    return answer;
  }

  send(event: string, data: unknown = {}): void {
    if (this.socket instanceof WebSocket) this.socket.send(JSON.stringify({ event, data }));
    else this.socket.emit(event, data);
  }

  /** The first received event of these names not yet taken (waiting for it if need be). */
  next(...events: string[]): Promise<Received> {
    const index = this.received.findIndex((r) => events.includes(r.event));
    if (index >= 0) return Promise.resolve(this.received.splice(index, 1)[0]);
    return new Promise((resolve) => this.waiters.push({ events, resolve }));
  }

  close(): void {
    if (this.socket instanceof WebSocket) this.socket.close();
    else this.socket.disconnect();
  }

  private receive(received: Received): void {
    const waiter = this.waiters.find((w) => w.events.includes(received.event));
    if (waiter === undefined) return void this.received.push(received);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.resolve(received);
  }
}
