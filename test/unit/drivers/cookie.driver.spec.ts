import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { SessionState } from '../../../lib/core/session-state.js';
import { Keyring } from '../../../lib/crypto/keyring.js';
import { COOKIE_SIZE_LIMIT, CookieDriver } from '../../../lib/drivers/cookie.driver.js';
import { CookieWriter } from '../../../lib/http/cookies.js';
import { SessionTooLargeError } from '../../../lib/session.errors.js';
import { resolveSessionOptions } from '../../../lib/session.options.js';

const options = resolveSessionOptions({ secret: 'a-test-secret-that-is-long-enough-0123456789' }, {});
const writer = new CookieWriter(options.cookie);
const silent = new Logger('test');
silent.error = () => undefined;
const driver = new CookieDriver(
  'cookie',
  'sid',
  new Keyring(options.secrets),
  writer,
  options.policies,
  silent,
);
const now = 1_800_000_000_000;
const commit = (state: SessionState, hadCookie = false) =>
  driver.commit({ state, consume: true, hadCookie, secure: false, now });

describe('CookieDriver', () => {
  it('decides the cookie (sealed value and expiry); the lifecycle writes it', () => {
    const state = driver.load(undefined, now);
    state.set('a', 1);
    const out = commit(state);
    const cookie = out.cookie as { value: string; expires: number };
    expect(cookie.expires).toBe(now + options.idleTimeout);
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(driver.load(cookie.value, now).all()).toEqual({ a: 1 });
  });

  it('keeps the last activity as time after creation, and still opens cookies that kept it as a timestamp', () => {
    const keyring = new Keyring(options.secrets);
    const state = driver.load(undefined, now);
    state.set('a', 1);
    const sealed = (commit(state).cookie as { value: string }).value;
    const written = JSON.parse(keyring.open('sid', sealed)!.plaintext) as Record<string, unknown>;
    expect(written).toMatchObject({ c: now, t: 0 });
    expect(written).not.toHaveProperty('a');
    const old = keyring.seal(
      'sid',
      JSON.stringify({ i: 'old-id', d: { a: 2 }, f: {}, c: now - 5000, a: now - 1000 }),
    );
    const loaded = driver.load(old, now);
    expect(loaded.all()).toEqual({ a: 2 });
    expect(loaded.createdAt).toBe(now - 5000);
    expect(loaded.lastActivity).toBe(now - 1000);
    // Past the idle timeout counted from that timestamp: a fresh session.
    expect(driver.load(old, now - 1000 + options.idleTimeout + 1).isNew).toBe(true);
    expect(driver.load(old, now - 1000 + options.idleTimeout - 1).isNew).toBe(false);
  });

  it('decides nothing for an untouched session, and clears the cookie of a destroyed one', () => {
    expect(commit(driver.load(undefined, now))).toEqual({});
    const state = driver.load(undefined, now);
    state.set('a', 1);
    const value = (commit(state).cookie as { value: string }).value;
    const destroyed = driver.load(value, now);
    destroyed.destroy();
    expect(commit(destroyed, true)).toEqual({ cookie: 'clear' });
  });

  it('refuses a session whose Set-Cookie, as the writer would write it, passes 4096 bytes', () => {
    const state = driver.load(undefined, now);
    state.set('pad', 'x'.repeat(COOKIE_SIZE_LIMIT));
    const out = commit(state);
    expect(out.cookie).toBeUndefined();
    expect(out.failure).toBeInstanceOf(SessionTooLargeError);
    expect(driver.mayRefuse).toBe(true);
  });

  it('measures exactly what the writer writes', () => {
    const value = 'v'.repeat(100);
    for (const secure of [false, true]) {
      expect(writer.size('sid', value, secure)).toBe(
        Buffer.byteLength(writer.set('sid', value, now, secure)),
      );
    }
  });
});
