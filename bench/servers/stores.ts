import { RedisStore } from 'connect-redis';
import type { Store } from 'express-session';
import { createRequire } from 'node:module';
import { createClient } from 'redis';
import type { ServerConfig } from './serve.js';

const require = createRequire(import.meta.url);

export interface PeerStore {
  store: Store | undefined;
  close(): Promise<void>;
}

/**
 * The express-session stores the peers use (@fastify/session takes the same ones): MemoryStore
 * (undefined: each library's default), connect-redis over node-redis, better-sqlite3-session-store
 * on a WAL-mode file (the setting better-sqlite3 recommends for speed).
 */
export async function peerStore(config: ServerConfig): Promise<PeerStore> {
  if (config.store === 'redis') {
    const client = createClient({ url: config.redisUrl });
    await client.connect();
    return { store: new RedisStore({ client }), close: async () => void (await client.quit()) };
  }
  if (config.store === 'sqlite') {
    const Database = require('better-sqlite3') as new (file: string) => {
      pragma(sql: string): unknown;
      close(): void;
    };
    const session = require('express-session') as typeof import('express-session');
    const SqliteStore = (require('better-sqlite3-session-store') as (s: unknown) => new (o: object) => Store)(
      session,
    );
    const db = new Database(config.sqliteFile ?? 'peer-sessions.sqlite');
    db.pragma('journal_mode = WAL');
    return { store: new SqliteStore({ client: db }), close: async () => db.close() };
  }
  return { store: undefined, close: async () => undefined };
}
