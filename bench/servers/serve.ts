import { get, type Server } from 'node:http';
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
  /** nest: forRoot({ users }) (the cookie driver's revocationStore). */
  users?: { revocationStore?: string };
  /** nest: count the calls made to the session stores, answered on /store-calls (never under valgrind). */
  countStoreCalls?: boolean;
  /** nest: a feature to check at start ('driver', 'facade', 'flash'); one not offered yet skips the variant. */
  probe?: 'driver' | 'facade' | 'flash';
  /** nest-peer: the library hosted in the Nest app. */
  library?: 'express-session' | 'cookie-session' | 'fastify-session' | 'fastify-secure-session';
  /** nest-peer with express-session or cookie-session: connect-flash too. */
  flash?: boolean;
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

type Message = { type: 'cpu'; id: number } | { type: 'gc'; id: number } | { type: 'stop' };

export const FOURTEEN_DAYS = 14 * 24 * 60 * 60 * 1000;

/**
 * How long an idle keep-alive connection stays open: Fastify's default (72 s) on every server. Node's
 * own (5 s), which Express and Nest on Express keep, closes connections under valgrind, where the
 * server can take longer than that to read a request already sent on one.
 */
export const KEEP_ALIVE_MS = 72_000;

export function keepAlive(server: Server): Server {
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  return server;
}

export function runServer(start: (config: ServerConfig) => Promise<Started>): void {
  const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
  start(config).then(
    (started) => {
      process.on('message', (message: Message) => {
        if (message.type === 'cpu') {
          process.send?.({ type: 'cpu', id: message.id, usage: process.cpuUsage() });
        } else if (message.type === 'gc') {
          // A full GC before a counted window (started with --expose-gc), so the window does not
          // pay for garbage left by the warm-up or by another route.
          (globalThis as { gc?: () => void }).gc?.();
          process.send?.({ type: 'gc', id: message.id });
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
  keepAlive(server);
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

/** Thrown at start when nest-session does not offer what a variant needs yet: the variant is skipped. */
export function featureMissing(what: string, detail: string): Error {
  return new Error(`SESSION_FEATURE_MISSING ${what}: ${detail}`);
}

/**
 * GETs a path `times` times on the server, carrying the cookies it sets as a browser would; resolves
 * with each answer's status and JSON body (used at start to check a feature works end to end).
 */
export async function selfRequests(
  port: number,
  path: string,
  times: number,
): Promise<{ status: number; body: unknown }[]> {
  const jar = new Map<string, string>();
  const answers: { status: number; body: unknown }[] = [];
  for (let i = 0; i < times; i++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    answers.push(
      await new Promise((resolve, reject) => {
        const req = get({ host: '127.0.0.1', port, path, headers: cookie ? { cookie } : {} }, (res) => {
          for (const line of res.headers['set-cookie'] ?? []) {
            const pair = line.split(';')[0];
            const eq = pair.indexOf('=');
            if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // not JSON: kept as text
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
        });
        req.on('error', reject);
        req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
      }),
    );
  }
  return answers;
}
