import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { BUILT_IN_STORES } from '../../../lib/stores/built-in.js';
import { DatabaseStore } from '../../../lib/stores/database/database.store.js';
import { RedisStore } from '../../../lib/stores/redis/redis.store.js';

const missing = (name: string) => Promise.reject(new Error(`Cannot find package '${name}'`));

describe('optional peer dependencies, checked at start-up', () => {
  it('names typeorm and the client the database driver needs', async () => {
    for (const [type, client] of [
      ['better-sqlite3', 'better-sqlite3'],
      ['postgres', 'pg'],
      ['mariadb', 'mysql2'],
    ] as const) {
      const withoutTypeorm = new DatabaseStore({ dataSource: { type } as never }, new Logger('t'), {
        importer: (name) => (name === 'typeorm' ? missing(name) : Promise.resolve({})),
      });
      await expect(withoutTypeorm.checkAtStartup()).rejects.toThrow(
        `SESSION_DATABASE_TYPEORM_MISSING: the database driver needs typeorm: npm install typeorm ${client}`,
      );
      const withoutClient = new DatabaseStore({ dataSource: { type } as never }, new Logger('t'), {
        importer: (name) => (name === client ? missing(name) : Promise.resolve({})),
      });
      await expect(withoutClient.checkAtStartup()).rejects.toThrow(
        `needs ${client}: npm install typeorm ${client}`,
      );
    }
    const installed = new DatabaseStore({ dataSource: { type: 'better-sqlite3', database: ':memory:' } });
    await expect(installed.checkAtStartup()).resolves.toBeUndefined();
  });

  it('names ioredis for the redis driver, unless the app gives its own client', async () => {
    const store = new RedisStore(
      { url: 'redis://127.0.0.1:1' },
      { importer: () => missing('ioredis') as never },
    );
    await expect(store.checkAtStartup()).rejects.toThrow(
      'SESSION_REDIS_MISSING: the redis driver needs ioredis 5: npm install ioredis',
    );
    await expect(new RedisStore({ url: 'redis://127.0.0.1:1' }).checkAtStartup()).resolves.toBeUndefined();
  });
});

describe('the built-in store catalog', () => {
  it('names only optional peer dependencies of the package as the packages a store needs', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    const peers = Object.values(BUILT_IN_STORES).flatMap((store) => store.peers);
    expect(peers.length).toBeGreaterThan(0);
    for (const name of peers) {
      expect(manifest.peerDependencies[name]).toBeDefined();
      expect(manifest.peerDependenciesMeta[name]).toEqual({ optional: true });
    }
  });
});
