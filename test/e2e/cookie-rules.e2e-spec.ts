import { describe, expect, it } from '@jest/globals';
import type { SessionCookieOptions } from 'nest-session';
import { createApp, http, platforms, setCookies } from '../support/app.js';
import { SECRET, sessionApp } from '../support/session-app.js';

/** Cookie options browsers would drop or refuse: each fails at start-up, saying what to set. */
const broken: Array<[string, SessionCookieOptions, RegExp]> = [
  ['__Host- without secure', { name: '__Host-sid' }, /'__Host-' cookie name needs cookie\.secure: true/],
  [
    "__Host- with secure 'auto'",
    { name: '__Host-sid', secure: 'auto' },
    /'__Host-' cookie name needs cookie\.secure: true/,
  ],
  [
    '__Host- with a domain',
    { name: '__Host-sid', secure: true, domain: 'example.com' },
    /'__Host-' cookie name cannot have cookie\.domain: remove it/,
  ],
  [
    "__Host- with path '/app'",
    { name: '__Host-sid', secure: true, path: '/app' },
    /'__Host-' cookie name needs cookie\.path '\/' \(it is '\/app'\)/,
  ],
  [
    '__Secure- without secure',
    { name: '__Secure-sid' },
    /'__Secure-' cookie name needs cookie\.secure: true or 'auto'/,
  ],
  [
    "sameSite 'none' without secure",
    { sameSite: 'none' },
    /sameSite 'none' needs cookie\.secure true or 'auto'/,
  ],
  [
    'partitioned without secure',
    { partitioned: true },
    /cookie\.partitioned needs cookie\.secure: true or 'auto'/,
  ],
];

describe.each(platforms)('cookie rules at start-up on %s', (platform) => {
  it.each(broken)(
    '%s is a SESSION_COOKIE_INVALID start-up error saying what to set',
    async (_label, cookie, message) => {
      const start = createApp(platform, sessionApp({ secret: SECRET, cookie }));
      await expect(start).rejects.toThrow(/^SESSION_COOKIE_INVALID: /);
      await expect(createApp(platform, sessionApp({ secret: SECRET, cookie }))).rejects.toThrow(message);
    },
  );

  it.each([
    ['__Host- with secure: true', { name: '__Host-sid', secure: true }, '__Host-sid', /; Secure/],
    [
      "__Secure- with secure 'auto'",
      { name: '__Secure-sid', secure: 'auto' },
      '__Secure-sid',
      /^__Secure-sid=[^;]+; /,
    ],
    [
      "sameSite 'none' with secure: true",
      { sameSite: 'none', secure: true },
      'nest_session',
      /; SameSite=None/,
    ],
  ] as Array<[string, SessionCookieOptions, string, RegExp]>)(
    '%s starts and sets the cookie',
    async (_label, cookie, name, attribute) => {
      const app = await createApp(platform, sessionApp({ secret: SECRET, cookie }));
      try {
        const res = await http(app).post('/set').set('X-Forwarded-Proto', 'https').send({ a: 1 }).expect(200);
        const set = setCookies(res).find((c) => c.startsWith(`${name}=`));
        expect(set).toBeDefined();
        expect(set).toMatch(attribute);
      } finally {
        await app.close();
      }
    },
  );
});
