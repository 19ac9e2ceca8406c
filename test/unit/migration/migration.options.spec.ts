import { describe, expect, it } from '@jest/globals';
import session from 'express-session';
import { SessionConfigError } from 'nest-session';
import { resolveSessionOptions } from '../../../lib/session.options.js';

const SECRET = 'x'.repeat(32);
const store = new session.MemoryStore();
const resolve = (migrateFrom: unknown, cookieName?: string) =>
  resolveSessionOptions(
    {
      secret: SECRET,
      migrateFrom: migrateFrom as never,
      cookie: cookieName ? { name: cookieName } : undefined,
    },
    {},
  ).migrateFrom;

describe('migrateFrom options', () => {
  it('are none by default, and take each library with its defaults', () => {
    expect(resolve(undefined)).toEqual([]);
    expect(
      resolve({
        expressSession: { secret: 'keyboard cat', store },
        cookieSession: { keys: ['k1', 'k2'] },
        fastifySession: {
          secret: ['s1'],
          store,
          cookiePrefix: 'p:',
          cookie: { path: '/app', domain: 'x.io' },
        },
      }),
    ).toEqual([
      {
        library: 'expressSession',
        name: 'connect.sid',
        secrets: ['keyboard cat'],
        algorithm: 'sha256',
        prefix: 's:',
        store,
        destroyOld: true,
        path: '/',
        domain: undefined,
      },
      {
        library: 'cookieSession',
        name: 'session',
        secrets: ['k1', 'k2'],
        algorithm: 'sha1',
        prefix: '',
        store: undefined,
        destroyOld: true,
        path: '/',
        domain: undefined,
      },
      {
        library: 'fastifySession',
        name: 'sessionId',
        secrets: ['s1'],
        algorithm: 'sha256',
        prefix: 'p:',
        store,
        destroyOld: true,
        path: '/app',
        domain: 'x.io',
      },
    ]);
  });

  it('keep a store without destroy() when the old records stay (destroyOld: false)', () => {
    const getOnly = { get: store.get.bind(store) };
    expect(resolve({ expressSession: { secret: 's', store: getOnly, destroyOld: false } })[0].store).toBe(
      getOnly,
    );
  });

  it.each([
    ['not an object', 'on', /migrateFrom must be an object/],
    [
      'a library it does not know',
      { expresSession: {} },
      /migrateFrom.expresSession is not a library .* expressSession/,
    ],
    [
      'no secret',
      { expressSession: { store } },
      /expressSession.secret is missing: .*express-session signed/,
    ],
    ['an empty secret list', { fastifySession: { secret: [], store } }, /fastifySession.secret is missing/],
    ['a secret that is not a string', { expressSession: { secret: [1], store } }, /secret is missing/],
    ['no keys', { cookieSession: {} }, /cookieSession.keys is missing: .*cookie-session signed/],
    [
      'no store',
      { expressSession: { secret: 's' } },
      /expressSession.store must be the store .* get\(id, callback\)/,
    ],
    ['a store without get', { fastifySession: { secret: 's', store: {} } }, /fastifySession.store must be/],
    [
      'a store without destroy',
      { expressSession: { secret: 's', store: { get() {} } } },
      /has no destroy\(id, callback\): .*destroyOld: false/,
    ],
    [
      'a bad name',
      { expressSession: { secret: 's', store, name: 'a b' } },
      /expressSession.name .* 'connect.sid'/,
    ],
    ['an unknown algorithm', { cookieSession: { keys: 'k', algorithm: 'md17' } }, /algorithm .* 'sha1'/],
    [
      'a relative cookie path',
      { cookieSession: { keys: 'k', cookie: { path: 'app' } } },
      /cookie.path must start/,
    ],
    [
      'destroyOld not a boolean',
      { expressSession: { secret: 's', store, destroyOld: 'no' } },
      /destroyOld must be/,
    ],
    [
      'two libraries on one cookie',
      {
        expressSession: { secret: 's', store, name: 'sid' },
        fastifySession: { secret: 's', store, name: 'sid' },
      },
      /two libraries use the cookie 'sid'/,
    ],
  ])('refuse %s at start-up, saying what to set', (_label, migrateFrom, message) => {
    let error: unknown;
    try {
      resolve(migrateFrom);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SessionConfigError);
    expect((error as SessionConfigError).code).toBe('SESSION_MIGRATION_INVALID');
    expect((error as Error).message).toMatch(message);
  });

  it("refuse an old cookie that has nest-session's name: the two must be told apart", () => {
    expect(() => resolve({ expressSession: { secret: 's', store } }, 'connect.sid')).toThrow(
      /expressSession.name 'connect.sid' is also nest-session's cookie: give cookie.name another name/,
    );
    expect(() => resolve({ cookieSession: { keys: 'k', name: 'app' } }, 'app.sig')).toThrow(
      /cookieSession.name 'app'/,
    );
    expect(() => resolve({ cookieSession: { keys: 'k', name: 'nest_session_cookie' } })).toThrow(
      /is also nest-session's cookie/,
    );
  });
});
