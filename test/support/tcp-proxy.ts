import { once } from 'node:events';
import net from 'node:net';

/**
 * A loopback TCP proxy in front of a real server (PostgreSQL, MariaDB, Redis), for outage tests: no
 * mocks, the client library sees exactly what it would see if the server went away (down(): open
 * connections reset, new ones refused; up(): back on the same port) or stopped answering (stall():
 * what clients send is held, not lost, until resume()). It also counts the bytes clients send.
 */
export class TcpProxy {
  /** Bytes clients sent towards the server since the proxy started. */
  bytesSent = 0;
  private server: net.Server | undefined;
  private port = 0;
  private stalled = false;
  private readonly clients = new Set<net.Socket>();
  private readonly upstreams = new Set<net.Socket>();

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
    for (const socket of [...this.clients, ...this.upstreams]) socket.destroy();
    await closed;
  }

  stall(): void {
    this.stalled = true;
    for (const client of this.clients) client.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const client of this.clients) client.resume();
  }

  close(): Promise<void> {
    return this.down();
  }

  private pipe(client: net.Socket): void {
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    this.clients.add(client);
    this.upstreams.add(upstream);
    if (this.stalled) client.pause();
    client.on('data', (chunk: Buffer) => {
      this.bytesSent += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      this.clients.delete(client);
      this.upstreams.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  }
}
