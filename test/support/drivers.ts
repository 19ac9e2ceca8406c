import type { DynamicModule, Type } from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionModuleOptions } from 'nest-session';
import { DataSource } from 'typeorm';
// The one place the tests' catalog imports store classes from lib/.
import { DatabaseStore } from '../../lib/stores/database/database.store.js';
import { FileStore } from '../../lib/stores/file.store.js';
import { MemoryStore } from '../../lib/stores/memory.store.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import {
  serverDatabase,
  serviceUrl,
  sqliteDatabase,
  type ServerDatabase,
  type ServiceVariable,
  type TestDatabase,
} from './services.js';
import type { ConformanceOptions } from './conformance.js';
import { SECRET } from './session-app.js';
import { CONTRACT_MAX_SIZE, SHORT_TTL, type ContractGap, type StoreHarness } from './store-contract.js';
import { MapStore, extendModule } from './stores.js';

export const DRIVER_NAMES = [
  'memory',
  'cookie',
  'file',
  'sqlite',
  'postgres',
  'mariadb',
  'redis',
  'redis-cluster',
  'redis-sentinel',
  /** The README's custom store (MapStore), registered with SessionManager.extend(). */
  'custom',
] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** The servers each driver needs (the variables that name them); none for the in-process ones. */
export const DRIVER_NEEDS: Record<DriverName, readonly ServiceVariable[]> = {
  memory: [],
  cookie: [],
  file: [],
  sqlite: [],
  custom: [],
  postgres: ['NEST_SESSION_PG_URL'],
  mariadb: ['NEST_SESSION_MARIADB_URL'],
  redis: ['NEST_SESSION_REDIS_URL'],
  'redis-cluster': ['NEST_SESSION_REDIS_CLUSTER_URLS'],
  'redis-sentinel': ['NEST_SESSION_REDIS_SENTINELS', 'NEST_SESSION_REDIS_SENTINEL_NAME'],
};

/** One driver as the tests run it. */
export interface TestDriver {
  readonly name: DriverName;
  /** How reports and test titles name it: 'memory', 'database (PostgreSQL)', 'redis (Cluster)'. */
  readonly label: string;
  /** The variables naming the servers it needs; none for the drivers that run in the process. */
  readonly needs: readonly ServiceVariable[];
  /** Whether sessions live in a store (every driver but cookie): change sets are then atomic. */
  readonly serverSide: boolean;
  /** The server's URL, for drivers that have one a proxy can stand in front of (outage tests). */
  readonly url?: string;
  /**
   * forRoot options, secret included, with a place of its own each call (a directory, a SQLite
   * file, a table, a key prefix); `via` replaces the server's URL (a proxy in front of it).
   */
  options(via?: string): SessionModuleOptions;
  /** Modules the app needs beside SessionModule (the module that registers a custom store). */
  imports?(): Array<Type | DynamicModule>;
  /** A store of its own for one test of the store contract; none for the cookie driver. */
  store?(): Promise<StoreHarness>;
  /** Properties of the store contract its store is known to break (see ContractGap). */
  readonly contractGaps?: readonly ContractGap[];
  /** Removes what its options and stores made: files, tables, keys, and the clients it opened. */
  cleanup(): Promise<void>;
}

/** A database driver: its TestDatabase too, for the database driver's own cases. */
export interface DatabaseTestDriver extends TestDriver {
  readonly database: TestDatabase;
}

/** Whether the servers a driver needs are named in the environment. */
export function isAvailable(name: DriverName): boolean {
  return DRIVER_NEEDS[name].every((variable) => !!process.env[variable]);
}

/**
 * The driver `name`. Drivers that need a server read its variable now: a missing one throws, saying
 * how to start the servers (the services suite never skips).
 */
export function testDriver(name: 'sqlite' | 'postgres' | 'mariadb'): DatabaseTestDriver;
export function testDriver(name: DriverName): TestDriver;
export function testDriver(name: DriverName): TestDriver {
  return { ...build(name), needs: DRIVER_NEEDS[name] };
}

type Built = Omit<TestDriver, 'needs'> & { database?: TestDatabase };

function build(name: DriverName): Built {
  switch (name) {
    case 'memory':
      return memoryDriver();
    case 'cookie':
      return {
        name,
        label: 'cookie',
        serverSide: false,
        options: () => ({ driver: 'cookie', secret: SECRET }),
        cleanup: async () => {},
      };
    case 'file':
      return fileDriver();
    case 'sqlite':
      return databaseDriver(name, 'database (SQLite)', sqliteDatabase());
    case 'postgres': {
      const db = serverDatabase('postgres');
      return databaseDriver(name, 'database (PostgreSQL)', db, db);
    }
    case 'mariadb': {
      const db = serverDatabase('mariadb');
      return databaseDriver(name, 'database (MariaDB)', db, db);
    }
    case 'redis':
      return redisDriver(name, 'redis', redisTarget());
    case 'redis-cluster':
      return redisDriver(name, 'redis (Cluster)', clusterTarget());
    case 'redis-sentinel':
      return redisDriver(name, 'redis (Sentinel)', sentinelTarget());
    case 'custom':
      return customDriver();
  }
}

/** The drivers among `names` whose servers are named in the environment. */
export function availableDrivers(names: readonly DriverName[] = DRIVER_NAMES): TestDriver[] {
  return names.filter(isAvailable).map((name) => testDriver(name));
}

/** What the HTTP conformance suite needs of a driver: every app it builds gets a place of its own. */
export function conformanceOf(driver: TestDriver): ConformanceOptions {
  return {
    options: () => driver.options(),
    ...(driver.imports ? { imports: driver.imports } : {}),
    serverSide: driver.serverSide,
  };
}

/** The store-contract harness of a driver that keeps sessions in a store. */
export function contractStore(driver: TestDriver): () => Promise<StoreHarness> {
  const make = driver.store;
  if (make === undefined) throw new Error(`the ${driver.label} driver keeps no store`);
  return () => make.call(driver);
}

/** A clock a store reads instead of Date.now(), moved on by hand. */
function testClock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function memoryDriver(): Built {
  return {
    name: 'memory',
    label: 'memory',
    serverSide: true,
    options: () => ({ driver: 'memory', secret: SECRET }),
    store: async () => {
      const clock = testClock();
      const store = new MemoryStore({ max: 10_000, maxSize: CONTRACT_MAX_SIZE }, clock.now);
      return {
        store,
        maxSize: CONTRACT_MAX_SIZE,
        now: clock.now,
        // An entry is stale once more than its TTL has passed.
        expire: async () => clock.advance(SHORT_TTL + 1),
        powers: ['prune', 'synchronous', 'userIndex'],
        cleanup: async () => {},
      };
    },
    cleanup: async () => {},
  };
}

function fileDriver(): Built {
  let root: string | undefined;
  let dirs = 0;
  /** A directory of its own, not created yet: the store creates it on first use. */
  const freshDirectory = () =>
    join((root ??= mkdtempSync(join(tmpdir(), 'nest-session-file-'))), `d${++dirs}`);
  return {
    name: 'file',
    label: 'file',
    serverSide: true,
    options: () => ({
      driver: 'file',
      secret: SECRET,
      file: { directory: freshDirectory(), pruneInterval: 0 },
    }),
    store: async () => {
      const clock = testClock();
      const directory = freshDirectory();
      const store = new FileStore(
        { directory, pruneInterval: 0, maxSize: CONTRACT_MAX_SIZE },
        undefined,
        clock.now,
      );
      return {
        store,
        maxSize: CONTRACT_MAX_SIZE,
        now: clock.now,
        expire: async () => clock.advance(SHORT_TTL + 1),
        powers: ['prune', 'close', 'userIndex'],
        cleanup: async () => {
          await store.close();
          rmSync(directory, { recursive: true, force: true });
        },
      };
    },
    cleanup: async () => {
      if (root !== undefined) rmSync(root, { recursive: true, force: true });
    },
  };
}

function databaseDriver(
  name: DriverName,
  label: string,
  db: TestDatabase,
  server?: ServerDatabase,
): Built & { database: TestDatabase } {
  return {
    name,
    label,
    serverSide: true,
    database: db,
    url: server?.url,
    // Its write finds no live record in a tombstone's row and, with create true, writes over it.
    options: (via) => {
      const place = db.fresh();
      const dataSource = via && server ? server.via(via) : place.dataSource;
      return { driver: 'database', secret: SECRET, database: { dataSource, table: place.table } };
    },
    store: async () => {
      const place = db.fresh();
      // The app's own DataSource, as TypeOrmModule gives it: expire() writes the rows through it.
      const dataSource = await new DataSource(place.dataSource).initialize();
      const store = new DatabaseStore({ dataSource, table: place.table, pruneInterval: 0 }, undefined, {
        maxSize: CONTRACT_MAX_SIZE,
      });
      const p = (n: number) => (dataSource.options.type === 'postgres' ? `$${n}` : '?');
      return {
        store,
        maxSize: CONTRACT_MAX_SIZE,
        // The store compares expires_at with Date.now().
        now: Date.now,
        expire: async (...ids) => {
          for (const id of ids) {
            await dataSource.query(`UPDATE ${place.table} SET expires_at = ${p(1)} WHERE id = ${p(2)}`, [
              Date.now() - 1,
              id,
            ]);
          }
        },
        powers: ['prune', 'close', 'userIndex'],
        cleanup: async () => {
          await store.close();
          await dataSource.destroy();
        },
      };
    },
    cleanup: () => db.cleanup(),
  };
}

/** Where a redis driver's sessions go: the URL the driver takes, and a client of the tests' own. */
interface RedisTarget {
  url: string;
  /** A client on the same server(s), for the tests' own commands (PEXPIRE, cleanup). */
  client(): Redis | Cluster;
  /** The keys under `prefix` on every server that holds some (each master of a Cluster). */
  keys(client: Redis | Cluster, prefix: string): Promise<{ node: Redis; keys: string[] }[]>;
}

const singleKeys: RedisTarget['keys'] = async (client, prefix) => [
  { node: client as Redis, keys: await (client as Redis).keys(`${prefix}*`) },
];

function redisTarget(): RedisTarget {
  const url = serviceUrl('NEST_SESSION_REDIS_URL');
  return { url, client: () => new Redis(url), keys: singleKeys };
}

function clusterTarget(): RedisTarget {
  const urls = serviceUrl('NEST_SESSION_REDIS_CLUSTER_URLS');
  const nodes = urls.split(',').map((u) => {
    const { hostname, port } = new URL(u);
    return { host: hostname, port: Number(port) };
  });
  return {
    // redis.url with every master, comma-joined: the driver opens a Cluster client.
    url: urls,
    client: () => new Cluster(nodes),
    keys: async (client, prefix) => {
      const cluster = client as Cluster;
      // The masters are known once the client has read the cluster's slots.
      if (cluster.status !== 'ready') await once(cluster, 'ready');
      return Promise.all(
        cluster.nodes('master').map(async (node) => ({ node, keys: await node.keys(`${prefix}*`) })),
      );
    },
  };
}

function sentinelTarget(): RedisTarget {
  const sentinels = serviceUrl('NEST_SESSION_REDIS_SENTINELS')
    .split(',')
    .map((hostPort) => {
      const at = hostPort.lastIndexOf(':');
      return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
    });
  const name = serviceUrl('NEST_SESSION_REDIS_SENTINEL_NAME');
  return {
    url: `redis+sentinel://${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${name}`,
    // The master the Sentinels announce now.
    client: () => new Redis({ sentinels, name }),
    keys: singleKeys,
  };
}

function redisDriver(name: DriverName, label: string, target: RedisTarget): Built {
  const base = `nest-session-test:${process.pid}:${name}:`;
  let places = 0;
  let admin: Redis | Cluster | undefined;
  const client = () => (admin ??= target.client());
  return {
    name,
    label,
    serverSide: true,
    url: name === 'redis' ? target.url : undefined,
    options: (via) => ({
      driver: 'redis',
      secret: SECRET,
      redis: { url: via ?? target.url, prefix: `${base}${++places}:` },
    }),
    store: async () => {
      const prefix = `${base}${++places}:`;
      // The client the driver opens from redis.url, closed by close().
      const store = new RedisStore({ url: target.url, prefix }, { maxSize: CONTRACT_MAX_SIZE });
      return {
        store,
        maxSize: CONTRACT_MAX_SIZE,
        now: Date.now,
        // A timeout of 0 ends the key at once, as its TTL running out would.
        expire: async (...ids) => {
          for (const id of ids) await client().pexpire(prefix + id, 0);
        },
        powers: ['close'],
        cleanup: () => store.close(),
      };
    },
    cleanup: async () => {
      const c = client();
      try {
        for (const { node, keys } of await target.keys(c, base)) {
          for (const key of keys) await node.unlink(key);
        }
      } finally {
        admin = undefined;
        await c.quit();
        // A Sentinel client's quit() leaves its connections to the Sentinels open.
        c.disconnect();
      }
    },
  };
}

function customDriver(): Built {
  return {
    name: 'custom',
    label: 'custom (MapStore)',
    serverSide: true,
    options: () => ({ driver: 'custom', secret: SECRET }),
    imports: () => [extendModule('custom', () => new MapStore())],
    store: async () => {
      const store = new MapStore(CONTRACT_MAX_SIZE);
      return {
        store,
        maxSize: CONTRACT_MAX_SIZE,
        // MapStore compares expiresAt with Date.now().
        now: Date.now,
        expire: async (...ids) => {
          for (const id of ids) {
            const row = store.rows.get(id);
            if (row !== undefined) row.expiresAt = Date.now() - 1;
          }
        },
        powers: [],
        cleanup: async () => {},
      };
    },
    cleanup: async () => {},
  };
}
