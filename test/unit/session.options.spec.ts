import { describe, expect, it } from '@jest/globals';
import { resolveSessionOptions } from '../../lib/session.options.js';

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

  it.each([
    [{ secret: 'short' }, /SESSION_SECRET_TOO_SHORT.*32/],
    [{ secret: [SECRET, 'short'] }, /secret\[1\]/],
    [{ secret: SECRET, idleTimeout: 0 }, /idleTimeout must be a positive/],
    [{ secret: SECRET, lifetime: -1 }, /lifetime must be a positive/],
    [{ secret: SECRET, memory: { max: 0 } }, /memory.max/],
    [{ secret: SECRET, cookie: { name: 'bad name' } }, /cookie.name/],
    [{ secret: SECRET, cookie: { sameSite: 'none' as const } }, /sameSite 'none' needs cookie.secure/],
    [{ secret: SECRET, cookie: { sameSite: 'loose' as never } }, /cookie.sameSite/],
    [{ secret: SECRET, driver: '' }, /SESSION_DRIVER_INVALID/],
  ])('rejects %j at start-up', (input, message) => {
    expect(() => resolveSessionOptions(input, {})).toThrow(message);
  });
});
