/**
 * The one list of built-in stores. Each entry is what a built-in store is: its name (also the
 * `forRoot()` key its options go under), the packages it needs beyond nest-session, its options
 * (defaults merged and checked at start-up, by the store's own `resolve…Options`), and its factory.
 * SessionManager registers every entry, resolveSessionOptions() checks every entry's options, and
 * the driver registry names them in its errors. Adding a built-in store is one file in stores/ and
 * one entry here (docs/ARCHITECTURE.md, "Adding a store").
 */
import type { Logger } from '@nestjs/common';
import {
  DatabaseStore,
  resolveDatabaseOptions,
  type DatabaseDriverOptions,
} from './database/database.store.js';
import { FileStore, resolveFileOptions, type FileDriverOptions } from './file.store.js';
import { MemoryStore, resolveMemoryOptions, type MemoryDriverOptions } from './memory.store.js';
import { resolveRedisOptions, type RedisDriverOptions } from './redis/redis.options.js';
import { RedisStore } from './redis/redis.store.js';
import type { SessionStore } from './session-store.js';

/** What every store factory is given besides its own options. */
export interface StoreContext {
  /** Bytes of one session's JSON past which a change is refused (forRoot's `maxSize`). */
  maxSize: number;
  logger: Logger;
  /** The module's clock (ms since the epoch). */
  now: () => number;
  /** Told how many expired records each prune dropped (SessionEvents' 'expired'). */
  pruned?: (count: number) => void;
}

interface BuiltInStore<Input, Resolved> {
  /** The optional peer dependencies it loads (its start-up check says which one is missing). */
  peers: readonly string[];
  /** The options under its `forRoot()` key, with their defaults; throws a SessionConfigError naming the fix. */
  resolve(input: Input | undefined): Resolved;
  create(options: Resolved, context: StoreContext): SessionStore;
}

const entry = <Input, Resolved>(store: BuiltInStore<Input, Resolved>) => store;

export const BUILT_IN_STORES = {
  memory: entry({
    peers: [],
    resolve: (input?: MemoryDriverOptions) => resolveMemoryOptions(input),
    create: (options, { maxSize, now, pruned }) => new MemoryStore({ ...options, maxSize, pruned }, now),
  }),
  file: entry({
    peers: [],
    resolve: (input?: FileDriverOptions) => resolveFileOptions(input),
    create: (options, { maxSize, logger, now, pruned }) =>
      new FileStore({ ...options, maxSize, pruned }, logger, now),
  }),
  database: entry({
    peers: ['typeorm', 'better-sqlite3'], // or TypeORM's pg or mysql2
    resolve: (input?: DatabaseDriverOptions) => resolveDatabaseOptions(input),
    create: (options, { maxSize, logger, now, pruned }) =>
      new DatabaseStore(options, logger, { maxSize, now, pruned }),
  }),
  redis: entry({
    peers: ['ioredis'],
    resolve: (input?: RedisDriverOptions) => resolveRedisOptions(input),
    create: (options, { maxSize, now }) => new RedisStore(options, { maxSize, now }),
  }),
};

export type BuiltInStoreName = keyof typeof BUILT_IN_STORES;

/** Every built-in store's options, under its key, as `forRoot()` takes them. */
export type BuiltInStoreOptions = {
  [K in BuiltInStoreName]?: Parameters<(typeof BUILT_IN_STORES)[K]['resolve']>[0];
};

/** Every built-in store's options, resolved. */
export type ResolvedStoreOptions = {
  [K in BuiltInStoreName]: ReturnType<(typeof BUILT_IN_STORES)[K]['resolve']>;
};

export const BUILT_IN_STORE_NAMES = Object.keys(BUILT_IN_STORES) as BuiltInStoreName[];

/**
 * Every built-in driver name, in the README's order: the default (memory), the cookie driver (which
 * keeps sessions in the cookie, not in a store), then the other stores.
 */
export const BUILT_IN_DRIVERS: readonly string[] = [
  'memory',
  'cookie',
  ...BUILT_IN_STORE_NAMES.filter((name) => name !== 'memory'),
];

/** Resolves every built-in store's options: a mistake in any of them stops the app at start-up. */
export function resolveStoreOptions(input: BuiltInStoreOptions): ResolvedStoreOptions {
  const resolved = {} as Record<BuiltInStoreName, unknown>;
  for (const name of BUILT_IN_STORE_NAMES) {
    resolved[name] = (BUILT_IN_STORES[name].resolve as (input: unknown) => unknown)(input[name]);
  }
  return resolved as ResolvedStoreOptions;
}

/** Builds a built-in store from the resolved options. */
export function createBuiltInStore(
  name: BuiltInStoreName,
  options: ResolvedStoreOptions,
  context: StoreContext,
): SessionStore {
  const store = BUILT_IN_STORES[name] as BuiltInStore<unknown, unknown>;
  return store.create(options[name], context);
}
