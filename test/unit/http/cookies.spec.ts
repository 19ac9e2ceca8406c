import { describe, expect, it } from '@jest/globals';
import { serialize } from 'cookie';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { CookieWriter, readCookies, requestCookies } from '../../../lib/http/cookies.js';
import type { ResolvedSessionOptions } from '../../../lib/session.options.js';

type CookieOptions = ResolvedSessionOptions['cookie'];
const VALUE = 'dGhlLWlk.c2lnbmF0dXJlLWluLWJhc2U2NHVybC1jaGFyYWN0ZXJzXzAxMjM0NTY3OA';
const EXPIRES = new Date(Date.UTC(2027, 0, 2, 3, 4, 5));

const configs: Array<[string, CookieOptions]> = [
  [
    'the defaults',
    { name: 'nest_session', path: '/', httpOnly: true, secure: false, sameSite: 'lax', partitioned: false },
  ],
  [
    'domain, path, strict, no HttpOnly',
    {
      name: 'sid',
      path: '/app',
      domain: 'example.com',
      httpOnly: false,
      secure: true,
      sameSite: 'strict',
      partitioned: false,
    },
  ],
  [
    "secure 'auto' with SameSite=None",
    { name: 's', path: '/', httpOnly: true, secure: 'auto', sameSite: 'none', partitioned: false },
  ],
];

describe('CookieWriter', () => {
  it.each(configs)('writes what cookie.serialize writes, with %s', (_label, options) => {
    const writer = new CookieWriter(options);
    for (const secureRequest of [false, true]) {
      const secure = options.secure === 'auto' ? secureRequest : options.secure;
      const expected = serialize(options.name, VALUE, {
        path: options.path,
        domain: options.domain,
        httpOnly: options.httpOnly,
        sameSite: options.sameSite,
        expires: EXPIRES,
        secure,
      });
      expect(writer.set(options.name, VALUE, EXPIRES.getTime(), secureRequest)).toBe(expected);
      expect(writer.set(`${options.name}_cookie`, VALUE, EXPIRES.getTime(), secureRequest)).toBe(
        expected.replace(`${options.name}=`, `${options.name}_cookie=`),
      );
    }
  });

  it('writes each expiry to the second, as Date#toUTCString does, whatever the order', () => {
    const writer = new CookieWriter(configs[0][1]);
    const at = (ms: number) => /Expires=([^;]+)/.exec(writer.set('sid', VALUE, ms, false))![1];
    const base = Date.UTC(2030, 0, 1, 12, 0, 0);
    for (const ms of [base, base + 999, base + 1000, base - 1, base + 86_400_000, base]) {
      expect(at(ms)).toBe(new Date(ms).toUTCString());
    }
  });

  it('refuses a cookie name that is not a token, naming it', () => {
    const writer = new CookieWriter(configs[0][1]);
    expect(() => writer.set('bad name', VALUE, EXPIRES.getTime(), false)).toThrow(/bad name/);
  });

  it('reads the cookies of a request, one header or several', () => {
    expect(readCookies('a=1; b=2')).toEqual({ a: '1', b: '2' });
    expect(readCookies(['a=1', 'b=2'])).toEqual({ a: '1', b: '2' });
    expect(readCookies(undefined)).toEqual({});
  });
});

describe('requestCookies', () => {
  const request = (socket: Socket, cookie?: string) => {
    const req = new IncomingMessage(socket);
    req.headers = cookie === undefined ? {} : { cookie };
    return req;
  };

  it("keeps a connection's last Cookie header with its cookies: the same header again is not parsed", () => {
    const socket = new Socket();
    const first = requestCookies(request(socket, `a=1; s=${VALUE}`));
    expect(first).toEqual({ a: '1', s: VALUE });
    expect(Object.isFrozen(first)).toBe(true);
    // The same header on the same connection (another string with the same text): the same cookies.
    const again = requestCookies(request(socket, ['a=1; s=', VALUE].join('')));
    expect(again).toBe(first);
    // Another header, none, or another connection: read anew.
    expect(requestCookies(request(socket, 'a=2'))).toEqual({ a: '2' });
    expect(requestCookies(request(socket))).toEqual({});
    expect(requestCookies(request(socket, 'a=2'))).toEqual({ a: '2' });
    const other = requestCookies(request(new Socket(), `a=1; s=${VALUE}`));
    expect(other).toEqual(first);
    expect(other).not.toBe(first);
  });
});
