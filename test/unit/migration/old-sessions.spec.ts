import { describe, expect, it } from '@jest/globals';
import fastifyCookie from '@fastify/cookie';
import Keygrip from 'keygrip';
import { readCookies } from '../../../lib/http/cookies.js';
import { resolveMigration, type SessionMigrationOptions } from '../../../lib/migration/migration.options.js';
import { movedData, verifyOldCookie } from '../../../lib/migration/old-sessions.js';
import { cookieSignature } from '../../support/migration.js';

const store = { get: () => undefined, destroy: () => undefined };
const source = (options: SessionMigrationOptions) => resolveMigration(options, 'nest_session')[0];
/** What the request's Cookie header gives, parsed as the lifecycle parses it. */
const key = (options: SessionMigrationOptions, header: string) =>
  verifyOldCookie(source(options), readCookies(header))?.key;

const ID = 'gq6cJ0dHxm0Qv8yB2q2mKHb8Y8p0m4Qx';

describe("express-session's cookie (cookie-signature, as express-session 1.19 writes it)", () => {
  const express = (secret: string | string[]) => ({ expressSession: { secret, store } });
  const written = (id: string, secret: string, name = 'connect.sid') =>
    `${name}=${encodeURIComponent(`s:${cookieSignature.sign(id, secret)}`)}`;

  it.each([
    ['signed with the only secret', ID, 'one', ['one']],
    ['signed with an older secret of the list', ID, 'old', ['new', 'old']],
    ['whose id has dots (a genid of its own)', 'a.b.c', 'one', ['one']],
    ['whose id has characters to escape', 'ü+/=;', 'one', ['one']],
  ])('verifies a cookie %s', (_label, id, signedWith, secrets) => {
    expect(key(express(secrets), written(id, signedWith))).toBe(id);
    // Sent unescaped too (a client that does not encode): the same cookie.
    if (!/[;=]/.test(id)) {
      expect(key(express(secrets), `connect.sid=s:${cookieSignature.sign(id, signedWith)}`)).toBe(id);
    }
  });

  const valid = `s:${cookieSignature.sign(ID, 'one')}`;
  it.each([
    ['another secret', `s:${cookieSignature.sign(ID, 'two')}`],
    ['one character of the signature changed', valid.slice(0, -1) + (valid.endsWith('A') ? 'B' : 'A')],
    ['the id changed', valid.replace(ID, ID.slice(0, -1) + 'z')],
    ['no s: prefix', valid.slice(2)],
    ['no signature', `s:${ID}`],
    ['an empty signature', `s:${ID}.`],
    ['an empty id', `s:${cookieSignature.sign('', 'one')}`],
    ['the signature padded with =', `${valid}=`],
    ['nothing', ''],
  ])('ignores a cookie with %s', (_label, value) => {
    expect(key(express('one'), `connect.sid=${encodeURIComponent(value)}`)).toBeUndefined();
  });

  it("reads only the cookie of the configured name, and cookie-signature's own check agrees", () => {
    expect(
      key({ expressSession: { secret: 'one', store, name: 'sid' } }, written(ID, 'one')),
    ).toBeUndefined();
    expect(key({ expressSession: { secret: 'one', store, name: 'sid' } }, written(ID, 'one', 'sid'))).toBe(
      ID,
    );
    expect(cookieSignature.unsign(valid.slice(2), 'one')).toBe(ID);
  });
});

describe("@fastify/session's cookie (@fastify/cookie's signer)", () => {
  const signer = (secrets: string | string[], algorithm?: string) =>
    fastifyCookie.signerFactory(secrets, algorithm);
  const fastify = (secret: string | string[], more: object = {}) => ({
    fastifySession: { secret, store, ...more },
  });

  it.each([
    ['one secret', 'one', ['one'], {}],
    ['an older secret of the list', ['old'], ['new', 'old'], {}],
    ['its algorithm option', 'one', ['one'], { algorithm: 'sha512' }],
  ])('verifies a cookie signed with %s', (_label, signedWith, secrets, more) => {
    const algorithm = (more as { algorithm?: string }).algorithm;
    const value = signer(signedWith, algorithm).sign(ID);
    expect(key(fastify(secrets, more), `sessionId=${encodeURIComponent(value)}`)).toBe(ID);
  });

  it('takes its cookiePrefix off, and ignores a cookie without it', () => {
    const value = signer('one').sign(ID);
    const withPrefix = fastify('one', { cookiePrefix: 'p:' });
    expect(key(withPrefix, `sessionId=${encodeURIComponent(`p:${value}`)}`)).toBe(ID);
    expect(key(withPrefix, `sessionId=${encodeURIComponent(value)}`)).toBeUndefined();
  });

  it('ignores a forged or foreign signature', () => {
    const value = signer('one').sign(ID);
    const forged = value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A');
    expect(key(fastify('one'), `sessionId=${encodeURIComponent(forged)}`)).toBeUndefined();
    expect(key(fastify('two'), `sessionId=${encodeURIComponent(value)}`)).toBeUndefined();
    expect(fastifyCookie.unsign(forged, 'one').valid).toBe(false);
  });
});

describe("cookie-session's cookies (keygrip, as the cookies package writes them)", () => {
  const body = { passport: { user: 1 }, cart: ['book'] };
  const value = Buffer.from(JSON.stringify(body)).toString('base64');
  const header = (keys: string[], v = value, name = 'session', algorithm?: string) =>
    `${name}=${v}; ${name}.sig=${new Keygrip(keys, algorithm).sign(`${name}=${v}`)}`;
  const options = (keys: string | string[], more: object = {}) => ({ cookieSession: { keys, ...more } });
  const read = (opts: SessionMigrationOptions, h: string) =>
    verifyOldCookie(source(opts), readCookies(h))?.read();

  it.each([
    ['its only key', ['one'], ['one']],
    ['an older key of the list', ['old'], ['new', 'old']],
  ])('verifies the cookie signed with %s and reads the session from it', (_label, signedWith, keys) => {
    expect(read(options(keys), header(signedWith))).toEqual(body);
  });

  it("takes keygrip's other algorithms, a cookie name of its own and a quoted value", () => {
    expect(
      read(options('one', { algorithm: 'sha256' }), header(['one'], value, 'session', 'sha256')),
    ).toEqual(body);
    expect(read(options('one', { name: 'app' }), header(['one'], value, 'app'))).toEqual(body);
    const quoted = `session="${value}"; session.sig=${new Keygrip(['one']).sign(`session=${value}`)}`;
    expect(read(options('one'), quoted)).toEqual(body);
  });

  it.each([
    ['no signature cookie', `session=${value}`],
    ['another key', header(['two'])],
    [
      'the data changed',
      header(['one']).replace(value, Buffer.from('{"passport":{"user":2}}').toString('base64')),
    ],
    ['a body that is not JSON', header(['one'], Buffer.from('not json').toString('base64'))],
    ['a body that is not an object', header(['one'], Buffer.from('[1]').toString('base64'))],
  ])('ignores a cookie with %s', (_label, h) => {
    expect(verifyOldCookie(source(options('one')), readCookies(h))).toBeUndefined();
  });
});

describe('movedData: what moves from an old session', () => {
  const NOW = Date.UTC(2030, 0, 1);

  it("moves every key but the cookie, as JSON keeps it; connect-flash's messages become req.flash()'s", () => {
    const proto = JSON.parse('{"__proto__": {"x": 1}}');
    const session = {
      cookie: { originalMaxAge: 1000, expires: new Date(NOW + 1000).toISOString(), httpOnly: true },
      passport: { user: 7 },
      when: new Date(NOW),
      fn: () => 1,
      ...proto,
      flash: { info: ['Welcome'], error: [] },
    };
    const moved = movedData(session, NOW)!;
    expect(Object.keys(moved.data).sort()).toEqual(['__proto__', 'passport', 'when']);
    expect(moved.data.passport).toEqual({ user: 7 });
    expect(moved.data.when).toBe(new Date(NOW).toISOString());
    expect(Object.getOwnPropertyDescriptor(moved.data, '__proto__')?.value).toEqual({ x: 1 });
    expect(({} as { x?: unknown }).x).toBeUndefined();
    expect(moved.messages).toEqual({ info: ['Welcome'], error: [] });
  });

  it('keeps a `flash` key that is not connect-flash data as data', () => {
    expect(movedData({ flash: 'on' }, NOW)).toEqual({ data: { flash: 'on' }, messages: undefined });
  });

  it('moves nothing from an expired session, an empty one or what is not a session', () => {
    expect(movedData({ cookie: { expires: new Date(NOW - 1) }, a: 1 }, NOW)).toBeUndefined();
    expect(movedData({ cookie: { expires: NOW + 1 } }, NOW)).toBeUndefined();
    expect(movedData({ cookie: {}, flash: {} }, NOW)).toBeUndefined();
    expect(movedData(null, NOW)).toBeUndefined();
    expect(movedData('session', NOW)).toBeUndefined();
    expect(movedData({ cookie: { expires: null }, a: 1 }, NOW)?.data).toEqual({ a: 1 });
  });
});
