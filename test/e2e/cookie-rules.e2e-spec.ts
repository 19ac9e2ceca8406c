import { describe, expect, it } from '@jest/globals';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { SessionCookieOptions } from 'nest-session';
import { cookiePair, createApp, http, platforms, setCookies, type Platform } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
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

/** An app behind a trusted proxy (X-Forwarded-Proto counts), logging to `logger`. */
async function behindProxy(platform: Platform, cookie: SessionCookieOptions, logger: RecordingLogger) {
  const ref = await Test.createTestingModule({ imports: [sessionApp({ secret: SECRET, cookie })] }).compile();
  if (platform === 'express') {
    const app = ref.createNestApplication<NestExpressApplication>(new ExpressAdapter(), { logger });
    app.set('trust proxy', true);
    return app.init();
  }
  const app = ref.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ trustProxy: true }), {
    logger,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(platforms)("sameSite 'none' with secure 'auto' on %s", (platform) => {
  const said = (logger: RecordingLogger) =>
    logger.count('warn', "cookie.sameSite 'none' with cookie.secure 'auto'");

  it('warns once, at the first session cookie sent over plain http, naming the fix', async () => {
    const logger = new RecordingLogger();
    const app = await behindProxy(platform, { sameSite: 'none', secure: 'auto' }, logger);
    try {
      const https = await http(app).post('/set').set('X-Forwarded-Proto', 'https').send({ a: 1 }).expect(200);
      expect(setCookies(https)[0]).toMatch(/; Secure/);
      expect(said(logger)).toBe(0);
      const plain = await http(app).post('/set').send({ a: 1 }).expect(200);
      expect(setCookies(plain)[0]).toMatch(/; SameSite=None$/);
      expect(setCookies(plain)[0]).not.toMatch(/; Secure/);
      expect(said(logger)).toBe(1);
      const warning = logger.entries.find((e) => e.level === 'warn')!.message;
      expect(warning).toMatch(/browsers \(Chromium\) drop/);
      expect(warning).toMatch(/app\.set\('trust proxy', 1\)/);
      expect(warning).toMatch(/trustProxy: true/);
      const again = await http(app).post('/set').send({ b: 2 }).expect(200);
      await http(app).post('/destroy').set('Cookie', cookiePair(again, 'nest_session')!).expect(200);
      expect(said(logger)).toBe(1);
    } finally {
      await app.close();
    }
  });

  it.each([
    ["sameSite 'lax', secure 'auto'", { sameSite: 'lax', secure: 'auto' }],
    ["sameSite 'none', secure: true", { sameSite: 'none', secure: true }],
  ] as Array<[string, SessionCookieOptions]>)(
    'says nothing with %s over plain http',
    async (_label, cookie) => {
      const logger = new RecordingLogger();
      const app = await behindProxy(platform, cookie, logger);
      try {
        await http(app).post('/set').send({ a: 1 }).expect(200);
        expect(logger.entries.filter((e) => e.level === 'warn')).toEqual([]);
      } finally {
        await app.close();
      }
    },
  );
});
