import { once } from 'node:events';
import net from 'node:net';

/**
 * A loopback TCP proxy in front of a real Redis, for tests: take Redis away (connections reset,
 * then refused) and bring it back on the same port, stall it (bytes held, as a Redis that stopped
 * answering), and count the bytes clients send it.
 */
export class RedisProxy {
  /** Bytes clients sent towards Redis since the proxy started. */
  bytesToRedis = 0;
  private server?: net.Server;
  private port = 0;
  private stalled = false;
  private readonly clients = new Set<net.Socket>();
  private readonly upstreams = new Set<net.Socket>();

  private constructor(private readonly target: URL) {}

  static async start(redisUrl: string): Promise<RedisProxy> {
    const proxy = new RedisProxy(new URL(redisUrl));
    await proxy.up();
    return proxy;
  }

  /** The Redis URL through the proxy (credentials and database kept). */
  get url(): string {
    const url = new URL(this.target.href);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.href;
  }

  /** Listens again (on the same port once it has one). */
  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => this.pipe(client));
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Redis goes away: open connections are reset and new ones refused until up(). */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = once(server, 'close');
    server.close();
    for (const socket of [...this.clients, ...this.upstreams]) socket.destroy();
    await closed;
  }

  /** Redis stops answering: what clients send is held (not lost) until resume(). */
  stall(): void {
    this.stalled = true;
    for (const client of this.clients) client.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const client of this.clients) client.resume();
  }

  async close(): Promise<void> {
    await this.down();
  }

  private pipe(client: net.Socket): void {
    const upstream = net.connect(Number(this.target.port || 6379), this.target.hostname || '127.0.0.1');
    this.clients.add(client);
    this.upstreams.add(upstream);
    if (this.stalled) client.pause();
    client.on('data', (chunk: Buffer) => {
      this.bytesToRedis += chunk.length;
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
