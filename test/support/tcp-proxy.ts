import { once } from 'node:events';
import net from 'node:net';

/**
 * A loopback TCP proxy in front of a real database server, for outage tests: down() resets every open
 * connection and refuses new ones, up() listens again on the same port. No mocks: the client library
 * sees exactly what it would see if the server went away.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private port = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly target: URL) {}

  /** A proxy to the host and port of `url` (any scheme: postgres://, mysql://, redis://). */
  static async start(url: string): Promise<TcpProxy> {
    const proxy = new TcpProxy(new URL(url));
    await proxy.up();
    return proxy;
  }

  /** `url` with the proxy's address instead of the server's (credentials and database kept). */
  get url(): string {
    const url = new URL(this.target.href);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.href;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => this.pipe(client));
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = once(server, 'close');
    server.close();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private pipe(client: net.Socket): void {
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
