import { jest } from '@jest/globals';
import session from 'express-session';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ExpressSessionStore } from 'nest-session';
import { ExpressSessionStoreAdapter } from '../../lib/stores/express-session.adapter.js';
import type { ContractGap } from './store-contract.js';
import { root } from './typecheck.js';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as new (file: string) => { close(): void };
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

/**
 * Whether a package the tests use is not a devDependency yet: its tests are then `it.todo`s that
 * name it. Once it is in package.json, its tests run (and fail if it is not installed).
 */
export function awaitingInstall(pkg: string): boolean {
  return !(pkg in manifest.devDependencies);
}

/** Loads a package by a name the type checker does not follow (for packages not installed yet). */
export async function load<T>(pkg: string): Promise<T> {
  const module = (await import(pkg)) as { default?: T };
  return (module.default ?? module) as T;
}

/** An express-session store made for one test, and what releases it. */
export interface MadeStore {
  store: ExpressSessionStore & session.Store;
  cleanup(): Promise<void>;
}

/** An in-process express-session store of the real packages (those that need no server). */
export interface InProcessStore {
  name: string;
  /** The npm package it comes from. */
  pkg: string;
  make(): Promise<MadeStore>;
  /** It lists its sessions (`all`): the adapter then has prune(). */
  lists: boolean;
}

/** setInterval faked while `make` runs: a store that starts a timer it never stops holds nothing open. */
function withoutIntervals<T>(make: () => T): T {
  jest.useFakeTimers({
    doNotFake: [
      'Date',
      'nextTick',
      'setImmediate',
      'clearImmediate',
      'setTimeout',
      'clearTimeout',
      'queueMicrotask',
      'hrtime',
      'performance',
    ],
  });
  try {
    return make();
  } finally {
    jest.useRealTimers();
  }
}

export const IN_PROCESS_STORES: InProcessStore[] = [
  {
    name: "express-session's MemoryStore",
    pkg: 'express-session',
    lists: true,
    make: async () => ({ store: new session.MemoryStore(), cleanup: async () => undefined }),
  },
  {
    name: 'better-sqlite3-session-store (SQLite in memory)',
    pkg: 'better-sqlite3-session-store',
    lists: true,
    make: async () => {
      const SqliteStore = (
        require('better-sqlite3-session-store') as (
          s: typeof session,
        ) => new (options: object) => session.Store
      )(session);
      const db = new Database(':memory:');
      // Its expiry sweep is a setInterval it never clears.
      const store = withoutIntervals(() => new SqliteStore({ client: db }));
      return { store, cleanup: async () => void db.close() };
    },
  },
  {
    name: 'memorystore',
    pkg: 'memorystore',
    lists: true,
    make: async () => {
      const createStore =
        await load<(s: typeof session) => new (options: object) => session.Store>('memorystore');
      const MemoryStore = createStore(session);
      const store = new MemoryStore({}) as session.Store & { stopInterval(): void };
      return { store, cleanup: async () => store.stopInterval() };
    },
  },
];

/**
 * The store contract's properties the adapter cannot keep (README, "Keeping your store"): an
 * express-session store only reads and writes whole records, so what the adapter serializes per id
 * in one process, two processes sharing the store interleave.
 */
export const EXPRESS_SESSION_GAPS: readonly ContractGap[] = [
  'cross-process-change-sets',
  'cross-process-retirement',
];

/** How long a record the contract means to expire lives (as store-contract.ts's SHORT_TTL). */
const SHORT_TTL = 1_000;

/**
 * The adapter over an express-session store, as the store contract's harness (StoreHarness in
 * test/support/store-contract.ts) takes a store: its clock injected, so `expire()` moves it on.
 */
export async function expressSessionHarness(made: MadeStore, maxSize = 4096) {
  let clock = Date.now();
  const store = new ExpressSessionStoreAdapter(made.store, { maxSize, now: () => clock });
  return {
    store,
    express: made.store,
    maxSize,
    now: () => clock,
    expire: async (..._ids: string[]) => {
      clock += SHORT_TTL + 1;
    },
    powers: typeof made.store.all === 'function' ? ['prune' as const] : [],
    cleanup: made.cleanup,
    /** Another process's adapter over the same store: its operations are not serialized with this one's. */
    another: () => new ExpressSessionStoreAdapter(made.store, { maxSize, now: () => clock }),
  };
}

/** Resolves a store method that takes a callback. */
export function callback<T>(
  fn: (cb: (error: unknown, value?: T) => void) => unknown,
): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    fn((error, value) => (error ? reject(error) : resolve(value)));
  });
}
