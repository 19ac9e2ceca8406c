import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { QueryFailedError } from 'typeorm';
import { sessionTag } from '../../../lib/core/session-tag.js';
import { RECOVERY_QUIET, StoreHealth } from '../../../lib/drivers/store-health.js';
import { SessionConfigError, SessionStoreUnavailableError } from '../../../lib/session.errors.js';
import { RedisStore } from '../../../lib/stores/redis/redis.store.js';
import { DatabaseStore } from '../../../lib/stores/database/database.store.js';
import { RecordingLogger } from '../../support/logger.js';

function health(explain?: (error: unknown) => string | undefined) {
  let t = 1_000_000;
  const logger = new RecordingLogger();
  const h = new StoreHealth('redis', logger as never, explain, () => t);
  return { h, logger, advance: (ms: number) => (t += ms) };
}

describe('StoreHealth', () => {
  it('logs one pair of lines for an outage, however many requests fail and succeed in between', () => {
    const { h, logger, advance } = health();
    for (let i = 0; i < 14; i++) {
      expect(h.failed(new Error('connect ECONNREFUSED 127.0.0.1:7002'))).toBeInstanceOf(
        SessionStoreUnavailableError,
      );
      advance(100);
      h.ok(); // another node answers meanwhile
      advance(150);
    }
    expect(logger.errors()).toHaveLength(1);
    expect(logger.count('log', 'available again')).toBe(0);
    advance(RECOVERY_QUIET);
    h.ok();
    h.ok();
    expect(logger.count('log', "The 'redis' session store is available again")).toBe(1);
    h.failed(new Error('down again'));
    expect(logger.errors()).toHaveLength(2);
  });

  it('answers a misconfiguration with the fix, logged once, not as an outage', () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:7000' });
    const { h, logger } = health((e) => store.misconfiguration(e));
    for (let i = 0; i < 3; i++) {
      const error = h.failed(new Error('MOVED 1234 127.0.0.1:7001'));
      expect(error).toBeInstanceOf(SessionConfigError);
      expect(error.message).toMatch(
        /^SESSION_STORE_MISCONFIGURED: .*one node of a Redis Cluster: give every node/,
      );
    }
    expect(logger.errors()).toHaveLength(1);
    expect(logger.errors()[0]).toMatch(/misconfigured/);
    h.ok();
    expect(logger.count('log', 'available again')).toBe(0);
  });

  it('knows the setup mistakes of Redis and of the databases', () => {
    const redis = new RedisStore({});
    expect(redis.misconfiguration(new Error('WRONGPASS invalid username-password pair'))).toMatch(/password/);
    expect(redis.misconfiguration(new Error('ERR DB index is out of range'))).toMatch(/database number/);
    expect(redis.misconfiguration(new Error('connect ECONNREFUSED'))).toBeUndefined();
    const db = new DatabaseStore({ dataSource: { type: 'postgres' } as never });
    expect(db.misconfiguration({ driverError: { code: '28P01' } })).toMatch(/user or password/);
    expect(db.misconfiguration(Object.assign(new Error('x'), { code: 'ER_BAD_DB_ERROR' }))).toMatch(
      /does not exist/,
    );
    expect(db.misconfiguration(new Error('ECONNREFUSED'))).toBeUndefined();
  });

  it("never passes on a session's id or data: the log line and the error's cause are told without them", () => {
    const { h, logger } = health();
    const id = 'K7tpWab6QjUyBBNrLXVINO4EVdaJbBuVaGfqcJQU7Js';
    const payload = JSON.stringify({ data: { card: '4111 1111 1111 1111' }, flash: {} });
    // An SQL error as TypeORM gives it: the driver's message (echoing the id, as MySQL's
    // "Duplicate entry" does), and the query with its parameters, the session's data among them.
    const sqlError = new QueryFailedError(
      'UPDATE sessions SET payload = ? WHERE id = ?',
      [payload, id],
      Object.assign(new Error(`Duplicate entry '${id}' for key 'PRIMARY'`), { code: 'ER_DUP_ENTRY' }),
    );
    const error = h.failed(sqlError, [id, undefined]);
    expect(logger.errors()).toEqual([
      `The 'redis' session store is unavailable: Duplicate entry '${sessionTag(id)}' for key 'PRIMARY'`,
    ]);
    const told = inspect(error, { depth: 5 });
    expect(told).not.toContain(id);
    expect(told).not.toContain('4111');
    expect((error.cause as Error).message).toBe(`Duplicate entry '${sessionTag(id)}' for key 'PRIMARY'`);
    expect((error.cause as Error).name).toBe('QueryFailedError');
  });
});
