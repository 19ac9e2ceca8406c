import { describe, expect, it } from '@jest/globals';
import { sightCookie } from '../../../lib/testing/cookie-source.js';

// Responses of every shape, run for real, are in test/support/testing-kit.ts (supertest, fetch) and
// the packed package's node:test run (light-my-request); here, the strings they carry.

const NOW = Date.UTC(2030, 0, 1);
const SET = 'nest_session=abc.def; Path=/; Expires=Wed, 15 Jan 2030 00:00:00 GMT; HttpOnly; SameSite=Lax';
const CLEAR =
  'nest_session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; SameSite=Lax';

describe('sightCookie()', () => {
  it('reads the value a Set-Cookie sets, and tells a cleared one', () => {
    expect(sightCookie(SET, 'nest_session', NOW)).toEqual({ value: 'abc.def', cleared: false });
    expect(sightCookie(CLEAR, 'nest_session', NOW)).toEqual({ value: undefined, cleared: true });
    // Expired on the app's clock, which the cookie's Expires was written on.
    expect(sightCookie(SET, 'nest_session', Date.UTC(2030, 0, 16))).toEqual({
      value: undefined,
      cleared: true,
    });
  });

  it('reads a Cookie header, its pairs in any order', () => {
    expect(sightCookie('a=1; nest_session=xyz.123; b=2', 'nest_session', NOW)).toEqual({
      value: 'xyz.123',
      cleared: false,
    });
    expect(sightCookie('nest_session_cookie=sealed', 'nest_session', NOW)).toEqual({
      value: undefined,
      cleared: false,
    });
    expect(sightCookie('nest_session_cookie=sealed', 'nest_session_cookie', NOW).value).toBe('sealed');
  });

  it('takes the last Set-Cookie of the name from a list, the others being cookies of other names', () => {
    const list = ['app=1; Path=/', CLEAR, SET.replace('abc.def', 'second')];
    expect(sightCookie(list, 'nest_session', NOW)).toEqual({ value: 'second', cleared: false });
    expect(sightCookie([SET, CLEAR], 'nest_session', NOW)).toEqual({ value: undefined, cleared: true });
  });

  it("prefers the response's Set-Cookie to its request's Cookie, and reads a fetch Response's", () => {
    const response = new Response(null, { headers: [['set-cookie', SET]] });
    expect(sightCookie(response, 'nest_session', NOW).value).toBe('abc.def');
    const unset = new Response(null, { headers: [['set-cookie', 'other=1; Path=/']] });
    expect(sightCookie(unset, 'nest_session', NOW)).toEqual({ value: undefined, cleared: false });
  });

  it('refuses what is not a response or a cookie, saying what it takes', () => {
    expect(() => sightCookie(42 as never, 'nest_session', NOW)).toThrow(
      'read() takes a response (supertest, app.inject(), fetch), a Set-Cookie value or a Cookie header',
    );
  });
});
