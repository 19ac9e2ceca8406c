import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What every bench server shares: it reads its config from argv, listens on a free loopback port,
 * tells the orchestrator (IPC) the port, answers CPU questions, and exits when told to (so
 * `--cpu-prof` writes its profile). A server that cannot start says why instead of crashing the run.
 */
export interface ServerConfig {
  /** Session secret (32+ characters). */
  secret: string;
  /** nest: 'express' | 'fastify'. */
  adapter?: 'express' | 'fastify';
  /** nest: a nest-session driver name; none for the bare Nest app. */
  driver?: string;
  /** express-session and @fastify/session: 'memory' | 'redis' | 'sqlite'. */
  store?: 'memory' | 'redis' | 'sqlite';
  /** redis:// URL of the bench's own redis-server. */
  redisUrl?: string;
  /** SQLite file for the peers' store (nest-session's database driver uses its default file in the cwd). */
  sqliteFile?: string;
}

export interface Started {
  port: number;
  close(): Promise<void>;
}

type Message = { type: 'cpu'; id: number } | { type: 'stop' };

export const FOURTEEN_DAYS = 14 * 24 * 60 * 60 * 1000;

export function runServer(start: (config: ServerConfig) => Promise<Started>): void {
  const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
  start(config).then(
    (started) => {
      process.on('message', (message: Message) => {
        if (message.type === 'cpu') {
          process.send?.({ type: 'cpu', id: message.id, usage: process.cpuUsage() });
        } else if (message.type === 'stop') {
          void started
            .close()
            .catch(() => undefined)
            .finally(() => process.exit(0));
        }
      });
      process.on('disconnect', () => process.exit(0));
      process.send?.({ type: 'ready', port: started.port });
    },
    (error: unknown) => {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (process.send) process.send({ type: 'unavailable', reason }, () => process.exit(3));
      else process.exit(3);
    },
  );
}

/** The data keys of a session bag, without a library's own fields. */
export function dataKeys(bag: object, own: string[] = []): string[] {
  return Object.keys(bag).filter((key) => !own.includes(key));
}

/** Listens on a free loopback port. */
export async function listenHttp(server: Server, close?: () => Promise<void>): Promise<Started> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await close?.();
    },
  };
}

/** Listens on a free loopback port (any Fastify instance). */
export async function listenFastify(
  app: {
    listen(o: { port: number; host: string }): Promise<string>;
    server: Server;
    close(): Promise<unknown>;
  },
  close?: () => Promise<void>,
): Promise<Started> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    port: (app.server.address() as AddressInfo).port,
    close: async () => {
      await app.close();
      await close?.();
    },
  };
}
