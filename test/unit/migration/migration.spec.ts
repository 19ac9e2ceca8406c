import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import session from 'express-session';
import { Keyring } from '../../../lib/crypto/keyring.js';
import { CookieDriver } from '../../../lib/drivers/cookie.driver.js';
import { StoreDriver } from '../../../lib/drivers/store.driver.js';
import type { SessionDriver } from '../../../lib/drivers/session-driver.js';
import { CookieWriter } from '../../../lib/http/cookies.js';
import { Migration } from '../../../lib/migration/migration.js';
import { resolveSessionOptions } from '../../../lib/session.options.js';
import { MemoryStore } from '../../../lib/stores/memory.store.js';
import { callback } from '../../support/express-session-stores.js';
import { RecordingLogger } from '../../support/logger.js';
import { cookieSignature } from '../../support/migration.js';

const OLD_SECRET = 'keyboard cat';
const NOW = Date.now();

/** express-session's MemoryStore whose reads wait until the test lets them go, counted. */
class HeldStore extends session.MemoryStore {
  reads = 0;
  destroyFails = false;
  private waiting: (() => void)[] = [];
  private arrivals: (() => void)[] = [];
  hold = false;
  override get(id: string, cb: (err: unknown, s?: session.SessionData | null) => void) {
    this.reads++;
    this.arrivals.splice(0).forEach((arrived) => arrived());
    if (!this.hold) return super.get(id, cb);
    this.waiting.push(() => super.get(id, cb));
  }
  override destroy(id: string, cb?: (err?: unknown) => void) {
    if (this.destroyFails) return void setImmediate(() => cb?.(new Error('connect ETIMEDOUT')));
    super.destroy(id, cb);
  }
  /** Resolves once a read has arrived. */
  arrived(): Promise<void> {
    return this.reads > 0 ? Promise.resolve() : new Promise((resolve) => this.arrivals.push(resolve));
  }
  release(): void {
    this.hold = false;
    this.waiting.splice(0).forEach((go) => go());
  }
}

function setup(options: { secret?: string; maxSize?: number; driver?: 'memory' | 'cookie' } = {}) {
  const old = new HeldStore();
  const resolved = resolveSessionOptions(
    {
      secret: options.secret ?? 'a-test-secret-that-is-long-enough-0123456789',
      maxSize: options.maxSize,
      migrateFrom: { expressSession: { secret: OLD_SECRET, store: old } },
    },
    {},
  );
  const keyring = new Keyring(resolved.secrets);
  const logger = new RecordingLogger();
  const nestLogger = logger as unknown as Logger;
  const store = new MemoryStore({ max: 100, maxSize: resolved.maxSize });
  const driver: SessionDriver =
    options.driver === 'cookie'
      ? new CookieDriver(
          'cookie',
          'nest_session',
          keyring,
          new CookieWriter(resolved.cookie),
          resolved.policies,
          nestLogger,
        )
      : new StoreDriver('memory', 'nest_session', store, keyring, resolved.policies, nestLogger);
  const migration = new Migration(resolved, keyring, () => driver, nestLogger);
  return { old, store, driver, migration, logger };
}

async function oldSession(store: session.Store, id: string, data: object) {
  const cookie = { originalMaxAge: 3_600_000, expires: new Date(NOW + 3_600_000) };
  await callback((cb) => store.set(id, { cookie, ...data } as never, cb));
  return { 'connect.sid': `s:${cookieSignature.sign(id, OLD_SECRET)}` };
}

describe('Migration', () => {
  it('does nothing without an old cookie that verifies: no store read', () => {
    const { old, migration } = setup();
    expect(migration.start({}, NOW)).toBeUndefined();
    expect(migration.start({ nest_session: 'x', other: 'y' }, NOW)).toBeUndefined();
    const forged = { 'connect.sid': `s:${cookieSignature.sign('id', 'another secret')}` };
    expect(migration.start(forged, NOW)).toBeUndefined();
    expect(old.reads).toBe(0);
  });

  it('one flight per old session: requests that come while it runs wait for it; one read, one session', async () => {
    const { old, migration } = setup();
    const cookies = await oldSession(old, 'old-1', { passport: { user: 1 } });
    old.hold = true;
    // Two requests with the same old cookie, under way at the same time.
    const first = migration.start(cookies, NOW)!;
    const second = migration.start(cookies, NOW)!;
    await old.arrived();
    old.release();
    const [a, b] = await Promise.all([first.loaded, second.loaded]);
    expect(old.reads).toBe(1);
    expect(a.id).toBe(b.id);
    expect(a.isNew).toBe(false);
    expect(a.get('passport')).toEqual({ user: 1 });
    expect(b.get('passport')).toEqual({ user: 1 });
  });

  it('derives the new id from the old one with the secret: another process lands on the same session', async () => {
    const one = setup();
    const cookies = await oldSession(one.old, 'old-2', { a: 1 });
    const other = new Migration(
      resolveSessionOptions(
        {
          secret: 'a-test-secret-that-is-long-enough-0123456789',
          migrateFrom: { expressSession: { secret: OLD_SECRET, store: one.old } },
        },
        {},
      ),
      new Keyring(['a-test-secret-that-is-long-enough-0123456789']),
      one.migration.driver,
      new Logger('test'),
    );
    const [a, b] = await Promise.all([
      one.migration.start(cookies, NOW)!.loaded,
      other.start(cookies, NOW)!.loaded,
    ]);
    expect(a.id).toBe(b.id);
    const elsewhere = setup({ secret: 'another-secret-that-is-long-enough-012345' });
    const c = await elsewhere.migration.start(await oldSession(elsewhere.old, 'old-2', { a: 1 }), NOW)!
      .loaded;
    expect(c.id).not.toBe(a.id);
  });

  it('keeps the moved session when the old record cannot be destroyed: logged, and tried again', async () => {
    const { old, migration, driver, logger } = setup();
    const cookies = await oldSession(old, 'old-3', { passport: { user: 3 } });
    old.destroyFails = true;
    const request = migration.start(cookies, NOW)!;
    const state = await request.loaded;
    const cookie = request.cookie(driver, state) as { value: string };
    const done = request.commit();
    expect(done.cookies).toEqual(['connect.sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
    await expect(done.pending).resolves.toBeUndefined();
    expect(logger.count('warn', 'could not be destroyed')).toBe(1);
    const again = await driver.load(cookie.value, NOW);
    expect(again.get('passport')).toEqual({ user: 3 });
    // The next request that brings the old cookie destroys it.
    old.destroyFails = false;
    const next = migration.start(cookies, NOW + 1000)!;
    expect((await next.loaded).id).toBe(state.id);
    await next.commit().pending;
    expect(await callback((cb) => old.get('old-3', cb))).toBeUndefined();
  });

  it('leaves a session too large for maxSize where it is: a fresh session, the old cookie kept, logged', async () => {
    const { old, migration, driver, logger } = setup({ maxSize: 100 });
    const cookies = await oldSession(old, 'old-4', { big: 'x'.repeat(200) });
    const request = migration.start(cookies, NOW)!;
    const state = await request.loaded;
    expect(state.isNew).toBe(true);
    expect(state.failure).toBeUndefined();
    expect(request.cookie(driver, state)).toBeUndefined();
    expect(request.commit()).toEqual({ cookies: [], pending: undefined });
    expect(logger.errors()).toEqual([expect.stringMatching(/stays where it is: SESSION_TOO_LARGE/)]);
    expect(await callback((cb) => old.get('old-4', cb))).toBeDefined();
  });

  it('gives the cookie driver a new session holding the data, each request its own', async () => {
    const { old, migration, driver } = setup({ driver: 'cookie' });
    const cookies = await oldSession(old, 'old-5', { passport: { user: 5 }, flash: { info: ['Hi'] } });
    const request = migration.start(cookies, NOW)!;
    const state = await request.loaded;
    expect(state.isNew).toBe(true);
    expect(state.get('passport')).toEqual({ user: 5 });
    expect(state.pullFlash('info')).toEqual(['Hi']);
    expect(request.cookie(driver, state)).toBeUndefined();
    const big = await oldSession(old, 'old-6', { big: 'x'.repeat(4000) });
    expect((await migration.start(big, NOW)!.loaded).isNew).toBe(true);
    expect(await callback((cb) => old.get('old-6', cb))).toBeDefined();
  });
});
