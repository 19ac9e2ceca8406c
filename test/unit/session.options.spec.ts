import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { MAX_DURATION, MAX_TIMER } from '../../lib/core/option-checks.js';
import { resolveSessionOptions, secretBits } from '../../lib/session.options.js';

const SECRET = 'x'.repeat(32);

describe('resolveSessionOptions', () => {
  it('merges the documented defaults', () => {
    const o = resolveSessionOptions({ secret: SECRET }, {});
    expect(o).toMatchObject({
      driver: 'memory',
      secrets: [SECRET],
      cookie: { name: 'nest_session', path: '/', httpOnly: true, secure: false, sameSite: 'lax' },
      idleTimeout: 2 * 60 * 60 * 1000,
      lifetime: 14 * 24 * 60 * 60 * 1000,
      memory: { max: 10_000 },
    });
    expect(resolveSessionOptions('redis', { SESSION_SECRET: SECRET }).driver).toBe('redis');
  });

  it('reads SESSION_SECRET and keeps rotation order', () => {
    expect(resolveSessionOptions({}, { SESSION_SECRET: SECRET }).secrets).toEqual([SECRET]);
    const older = 'y'.repeat(40);
    expect(resolveSessionOptions({ secret: [SECRET, older] }, {}).secrets).toEqual([SECRET, older]);
  });

  it('refuses to start in production without a secret, saying what to set', () => {
    expect(() => resolveSessionOptions({}, { NODE_ENV: 'production' })).toThrow(
      'SESSION_SECRET_MISSING: set SessionModule.forRoot({ secret }) or SESSION_SECRET (32+ characters)',
    );
  });

  it('uses a random secret with a warning in development', () => {
    const warnings: string[] = [];
    const a = resolveSessionOptions({}, {}, (m) => warnings.push(m));
    const b = resolveSessionOptions({}, {}, () => undefined);
    expect(a.secrets[0]).not.toBe(b.secrets[0]);
    expect(a.secrets[0].length).toBeGreaterThanOrEqual(32);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/SESSION_SECRET/);
  });

  describe('a secret with too little variety', () => {
    const production = { NODE_ENV: 'production' };
    const random = 'kL9+2vQx/7RzT1mN4bH8cW3dY6fJ0gP5sA2eU9iO1qE=';

    it.each([
      ['32 spaces', ' '.repeat(32)],
      ["'a' x 32", 'a'.repeat(32)],
      ["'ab' x 16", 'ab'.repeat(16)],
      ["'x' x 31 + 'y'", `${'x'.repeat(31)}y`],
    ])('%s is a SESSION_SECRET_WEAK start-up error in production, naming the fix', (_label, secret) => {
      expect(() => resolveSessionOptions({ secret }, production)).toThrow(
        /^SESSION_SECRET_WEAK: secret has too little variety .*under 64.*openssl rand -base64 32/,
      );
      expect(() => resolveSessionOptions({}, { ...production, SESSION_SECRET: secret })).toThrow(
        /SESSION_SECRET_WEAK/,
      );
    });

    it('is refused as an older secret too (it still verifies cookies)', () => {
      expect(() => resolveSessionOptions({ secret: [random, 'a'.repeat(40)] }, production)).toThrow(
        /^SESSION_SECRET_WEAK: secret\[1\] has too little variety/,
      );
    });

    it('is a warning outside production, once per weak secret, and the app starts', () => {
      const warnings: string[] = [];
      const o = resolveSessionOptions({ secret: ['a'.repeat(32), random, ' '.repeat(32)] }, {}, (m) =>
        warnings.push(m),
      );
      expect(o.secrets).toHaveLength(3);
      expect(warnings).toEqual([
        expect.stringMatching(
          /^secret\[0\] has too little variety .*openssl rand -base64 32.*not 'production'/,
        ),
        expect.stringMatching(/^secret\[2\] has too little variety/),
      ]);
      const quiet: string[] = [];
      resolveSessionOptions({ secret: random }, {}, (m) => quiet.push(m));
      expect(quiet).toEqual([]);
    });

    it.each([
      ['openssl rand -base64 32', () => randomBytes(32).toString('base64')],
      ['openssl rand -hex 16', () => randomBytes(16).toString('hex')],
      ['openssl rand -hex 32', () => randomBytes(32).toString('hex')],
      ['base64url of 24 bytes', () => randomBytes(24).toString('base64url')],
    ])('passes random secrets (%s, 500 of them) in production', (_label, make) => {
      for (let i = 0; i < 500; i++) {
        const secret = make();
        expect(() => resolveSessionOptions({ secret }, production)).not.toThrow();
      }
    });

    it('estimates bits as length times the entropy of the characters', () => {
      expect(secretBits('a'.repeat(32))).toBe(0);
      expect(secretBits('ab'.repeat(16))).toBe(32);
      expect(secretBits('0123456789abcdef'.repeat(2))).toBe(128);
      expect(secretBits('\u{1F600}\u{1F601}'.repeat(16))).toBe(32);
    });
  });

  it.each([
    [{ secret: 'short' }, /SESSION_SECRET_TOO_SHORT.*32/],
    [{ secret: [SECRET, 'short'] }, /secret\[1\]/],
    [{ secret: SECRET, idleTimeout: 0 }, /idleTimeout must be a positive/],
    [
      { secret: SECRET, idleTimeout: 1e17 },
      /^SESSION_OPTION_INVALID: idleTimeout must be at most 3155760000000 ms/,
    ],
    [
      { secret: SECRET, lifetime: MAX_DURATION + 1 },
      /^SESSION_OPTION_INVALID: lifetime must be at most 3155760000000 ms/,
    ],
    [
      { secret: SECRET, file: { pruneInterval: 2 ** 31 } },
      /^SESSION_OPTION_INVALID: file.pruneInterval must be at most 2147483647 ms/,
    ],
    [
      { secret: SECRET, database: { pruneInterval: 1e17 } },
      /database.pruneInterval must be at most 2147483647 ms/,
    ],
    [
      { secret: SECRET, redis: { waitTimeout: 1e21 } },
      /^SESSION_OPTION_INVALID: redis.waitTimeout must be a whole number of milliseconds from 1 to 2147483647/,
    ],
    [{ secret: SECRET, redis: { waitTimeout: 1.5 } }, /redis.waitTimeout must be a whole number/],
    [{ secret: SECRET, lifetime: -1 }, /lifetime must be a positive/],
    [{ secret: SECRET, memory: { max: 0 } }, /memory.max/],
    [{ secret: SECRET, cookie: { name: 'bad name' } }, /cookie.name/],
    [{ secret: SECRET, cookie: { sameSite: 'none' as const } }, /sameSite 'none' needs cookie.secure/],
    [{ secret: SECRET, cookie: { sameSite: 'loose' as never } }, /cookie.sameSite/],
    [{ secret: SECRET, driver: '' }, /SESSION_DRIVER_INVALID/],
    [{ secret: SECRET, sockets: { checkInterval: -1 } }, /sockets.checkInterval must be a number/],
    [{ secret: SECRET, sockets: { checkInterval: 2 ** 31 } }, /sockets.checkInterval must be at most/],
  ])('rejects %j at start-up', (input, message) => {
    expect(() => resolveSessionOptions(input, {})).toThrow(message);
  });

  it('accepts every duration at its bound', () => {
    const o = resolveSessionOptions(
      {
        secret: SECRET,
        idleTimeout: MAX_DURATION,
        lifetime: MAX_DURATION,
        file: { pruneInterval: MAX_TIMER },
        database: { pruneInterval: MAX_TIMER },
        redis: { waitTimeout: MAX_TIMER },
        sockets: { checkInterval: MAX_TIMER },
      },
      {},
    );
    expect(o).toMatchObject({ idleTimeout: MAX_DURATION, lifetime: MAX_DURATION });
    expect(resolveSessionOptions({ secret: SECRET }, {}).sockets).toEqual({ checkInterval: 30_000 });
    // The furthest expiry the bound allows is still a date a cookie can carry.
    expect(new Date(Date.now() + MAX_DURATION).toUTCString()).toMatch(/ GMT$/);
  });
});
