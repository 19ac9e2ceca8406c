import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DatabaseStore } from '../../../lib/stores/database.store.js';
import { RedisStore } from '../../../lib/stores/redis.store.js';

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
      await expect(withoutTypeorm.ensureInstalled()).rejects.toThrow(
        `SESSION_DATABASE_TYPEORM_MISSING: the database driver needs typeorm: npm install typeorm ${client}`,
      );
      const withoutClient = new DatabaseStore({ dataSource: { type } as never }, new Logger('t'), {
        importer: (name) => (name === client ? missing(name) : Promise.resolve({})),
      });
      await expect(withoutClient.ensureInstalled()).rejects.toThrow(
        `needs ${client}: npm install typeorm ${client}`,
      );
    }
    const installed = new DatabaseStore({ dataSource: { type: 'better-sqlite3', database: ':memory:' } });
    await expect(installed.ensureInstalled()).resolves.toBeUndefined();
  });

  it('names ioredis for the redis driver, unless the app gives its own client', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1' }, () => missing('ioredis') as never);
    await expect(store.ensureInstalled()).rejects.toThrow(
      'SESSION_REDIS_MISSING: the redis driver needs ioredis 5: npm install ioredis',
    );
    await expect(new RedisStore({ url: 'redis://127.0.0.1:1' }).ensureInstalled()).resolves.toBeUndefined();
  });
});
