import session from 'express-session';
import mysql from 'mysql2/promise';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createClient } from 'redis';
import { load, type MadeStore } from './express-session-stores.js';
import { serviceUrl } from './services.js';

/** node-postgres, as connect-pg-simple's users hand it a pool (no type declarations installed). */
const pg = createRequire(import.meta.url)('pg') as {
  Pool: new (options: object) => {
    query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
    end(): Promise<void>;
  };
};

/** An express-session store on a server, and the expiry (ms since the epoch) the server keeps for an id. */
export interface ServerStore extends MadeStore {
  expiry(id: string): Promise<number | undefined>;
}

/** An express-session store of the real packages that needs a server (the services suite's). */
export interface ServerStoreKind {
  /** The server and the package. */
  name: string;
  /** The npm package it comes from. */
  pkg: string;
  /** A store on storage of its own (a key prefix, a table), empty; cleanup() removes it. */
  open(): Promise<ServerStore>;
}

/** A name no other test, run or process uses. */
const unique = () => `${process.pid}_${randomBytes(4).toString('hex')}`;

export const connectRedis: ServerStoreKind = {
  name: 'Redis with connect-redis 9 (node-redis)',
  pkg: 'connect-redis',
  open: async () => {
    const client = createClient({ url: serviceUrl('NEST_SESSION_REDIS_URL') });
    await client.connect();
    const prefix = `old-sess:${unique()}:`;
    return {
      store: new ConnectRedisStore({ client, prefix }),
      expiry: async (id) => {
        const ttl = await client.pTTL(prefix + id);
        return ttl > 0 ? Date.now() + ttl : undefined;
      },
      cleanup: async () => {
        const keys = await client.keys(`${prefix}*`);
        if (keys.length > 0) await client.del(keys);
        await client.close();
      },
    };
  },
};

export const connectPgSimple: ServerStoreKind = {
  name: 'PostgreSQL with connect-pg-simple 10',
  pkg: 'connect-pg-simple',
  open: async () => {
    const PGStore = (
      await load<(s: typeof session) => new (o: object) => session.Store>('connect-pg-simple')
    )(session);
    const pool = new pg.Pool({ connectionString: serviceUrl('NEST_SESSION_PG_URL') });
    const table = `old_session_${unique()}`;
    const store = new PGStore({ pool, tableName: table, createTableIfMissing: true }) as session.Store & {
      close(): Promise<void>;
    };
    return {
      store,
      expiry: async (id) => {
        const { rows } = await pool.query(
          `SELECT extract(epoch from expire) * 1000 AS at FROM "${table}" WHERE sid = $1`,
          [id],
        );
        return rows[0] === undefined ? undefined : Number(rows[0].at);
      },
      cleanup: async () => {
        await store.close();
        await pool.query(`DROP TABLE IF EXISTS "${table}"`);
        await pool.end();
      },
    };
  },
};

export const expressMysqlSession: ServerStoreKind = {
  name: 'MariaDB with express-mysql-session 3',
  pkg: 'express-mysql-session',
  open: async () => {
    const MySQLStore = (
      await load<(s: typeof session) => new (o: object) => session.Store>('express-mysql-session')
    )(session);
    const url = new URL(serviceUrl('NEST_SESSION_MARIADB_URL'));
    const tableName = `old_sessions_${unique()}`;
    const store = new MySQLStore({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1),
      schema: { tableName },
    }) as session.Store & { close(): Promise<void>; onReady(): Promise<void> };
    await store.onReady();
    const connection = await mysql.createConnection(url.toString());
    return {
      store,
      expiry: async (id) => {
        const [rows] = await connection.query(`SELECT expires FROM ${tableName} WHERE session_id = ?`, [id]);
        const row = (rows as { expires: number }[])[0];
        return row === undefined ? undefined : row.expires * 1000;
      },
      cleanup: async () => {
        await connection.query(`DROP TABLE IF EXISTS ${tableName}`);
        await connection.end();
        await store.close();
      },
    };
  },
};

export const SERVER_STORES: ServerStoreKind[] = [connectRedis, connectPgSimple, expressMysqlSession];
