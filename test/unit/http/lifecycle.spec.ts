import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Keyring } from '../../../lib/crypto/keyring.js';
import { CookieDriver } from '../../../lib/drivers/cookie.driver.js';
import { DriverRegistry } from '../../../lib/drivers/driver-registry.js';
import { StoreDriver } from '../../../lib/drivers/store.driver.js';
import { CookieWriter } from '../../../lib/http/cookies.js';
import { clearsFlash } from '../../../lib/core/flash-rule.js';
import { RequestContext, SessionLifecycle } from '../../../lib/http/lifecycle.js';
import type { SessionState } from '../../../lib/core/session-state.js';
import { SessionTooLargeError } from '../../../lib/session.errors.js';
import { resolveSessionOptions } from '../../../lib/session.options.js';
import { MemoryStore } from '../../../lib/stores/memory.store.js';

describe('the flash rule', () => {
  it('consumes flash on a final 2xx, unless the route keeps flash', () => {
    for (const status of [200, 201, 204, 299]) expect(clearsFlash(status, false)).toBe(true);
    for (const status of [100, 301, 302, 303, 304, 400, 401, 404, 409, 500, 503])
      expect(clearsFlash(status, false)).toBe(false);
    expect(clearsFlash(200, true)).toBe(false);
  });

  it.each([
    // status, keepsFlash, graphql, consumes
    [200, false, true, 'read'],
    [204, false, true, 'read'],
    [200, true, true, false],
    [400, false, true, false],
    [500, false, true, false],
    [200, false, false, true],
  ] as const)('a %i, keepsFlash %s, GraphQL %s: consumes %s', (status, keeps, graphql, consumes) => {
    expect(clearsFlash(status, keeps, graphql)).toBe(consumes);
  });
});

describe('RequestContext.commit', () => {
  const options = resolveSessionOptions({ secret: 'a-test-secret-that-is-long-enough-0123456789' }, {});
  const logger = new Logger('test');
  logger.error = () => undefined;

  function lifecycle() {
    const keyring = new Keyring(options.secrets);
    const writer = new CookieWriter(options.cookie);
    const store = new MemoryStore({ max: 10 });
    const registry = new DriverRegistry('memory', 'sid', logger);
    registry.register(
      'memory',
      (name, cookie) => new StoreDriver(name, cookie, store, keyring, options.policies, logger),
    );
    registry.register(
      'cookie',
      (name, cookie) => new CookieDriver(name, cookie, keyring, writer, options.policies, logger),
    );
    const services = { policies: options.policies, users: options.users, handle: (id: string) => id };
    return { store, life: new SessionLifecycle(options, registry, writer, services) };
  }
  const request = { headers: {} } as IncomingMessage;
  const plain = { secure: () => false, ip: () => undefined };
  const context = (life: SessionLifecycle, cookies = {}) =>
    new RequestContext(life, cookies, request, undefined, plain, Date.now());

  it('writes each driver its cookie through the one writer, with the configured attributes', () => {
    const { life } = lifecycle();
    const ctx = context(life);
    ctx.state('memory').set('a', 1);
    ctx.state('cookie').set('b', 2);
    const out = ctx.commit(200);
    expect(out.failure).toBeUndefined();
    expect(out.cookies).toHaveLength(2);
    expect(out.cookies.map((c) => c.split('=')[0]).sort()).toEqual(['sid', 'sid_cookie']);
    for (const cookie of out.cookies)
      expect(cookie).toMatch(/; Path=\/; Expires=.*; HttpOnly; SameSite=Lax$/);
  });

  it('commits the drivers that may refuse first: a refused response writes nothing anywhere', () => {
    const { life, store } = lifecycle();
    const ctx = context(life);
    ctx.state('memory').set('kept', false); // a driver that cannot refuse, used first
    ctx.state('cookie').set('pad', 'x'.repeat(5000));
    const out = ctx.commit(200);
    expect(out.failure).toBeInstanceOf(SessionTooLargeError);
    expect(out.cookies).toEqual([]);
    expect(store.size).toBe(0);
  });

  it('commits nothing for a request that used no session', () => {
    const { life } = lifecycle();
    expect(context(life).commit(200)).toEqual({ cookies: [], pending: undefined });
  });

  it('consumes flash by the final status it is given', () => {
    const { life, store } = lifecycle();
    const flashed = context(life);
    flashed.state('memory').flash('msg', 'hi');
    const cookie = flashed.commit(302).cookies[0].split(';')[0].split('=')[1];
    const id = new Keyring(options.secrets).unsign('sid', cookie)!;
    const seen = context(life, { sid: cookie });
    seen.adopt('memory', life.driver('memory').load(cookie, Date.now()) as never);
    expect(seen.state('memory').getFlash('msg')).toBe('hi');
    seen.commit(404);
    expect((store.getNow(id) as { flash: object }).flash).toEqual({ msg: 'hi' });
    seen.commit(200);
    expect((store.getNow(id) as { flash: object }).flash).toEqual({});
  });

  it.each(['memory', 'cookie'])(
    'on GraphQL requests (%s), a 200 consumes only the flash read, never the flash set',
    (driver) => {
      const { life } = lifecycle();
      const cookieName = driver === 'memory' ? 'sid' : 'sid_cookie';
      let cookie: string | undefined;
      const request = (use: (state: SessionState) => void) => {
        const ctx = context(life, cookie ? { [cookieName]: cookie } : {});
        ctx.graphql = true;
        if (cookie) ctx.adopt(driver, life.driver(driver).load(cookie, Date.now()) as SessionState);
        use(ctx.state(driver));
        const sent = ctx.commit(200).cookies[0];
        if (sent !== undefined) cookie = sent.split(';')[0].split('=')[1];
      };
      request((s) => s.flash('msg', 'hi')); // a mutation
      request((s) => s.set('other', 1)); // an operation that reads no flash
      request((s) => expect(s.getFlash('msg')).toBe('hi'));
      request((s) => expect(s.getFlash('msg')).toBeUndefined());
    },
  );
});
