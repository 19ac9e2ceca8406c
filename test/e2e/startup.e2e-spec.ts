import { describe, expect, it } from '@jest/globals';
import { createApp, http, platforms, setCookies } from '../support/app.js';
import { SECRET, sessionApp } from '../support/session-app.js';

describe.each(platforms)('start-up checks on %s', (platform) => {
  it('checks the options of a built-in driver that is not the default, before the first request', async () => {
    await expect(
      createApp(platform, sessionApp({ secret: SECRET, database: { table: 'no such; table' } })),
    ).rejects.toThrow(/SESSION_DATABASE_TABLE_INVALID: database.table must be a table name/);
    await expect(
      createApp(platform, sessionApp({ secret: SECRET, redis: { url: 'http://localhost' } })),
    ).rejects.toThrow(/SESSION_REDIS_INVALID: redis.url must be a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('refuses a lifetime past the Date range (it sent Expires=Invalid Date), naming the bound', async () => {
    await expect(createApp(platform, sessionApp({ secret: SECRET, lifetime: 1e17 }))).rejects.toThrow(
      /^SESSION_OPTION_INVALID: lifetime must be at most 3155760000000 ms \(100 years\)/,
    );
    const longest = await createApp(platform, sessionApp({ secret: SECRET, lifetime: 3_155_760_000_000 }));
    try {
      const res = await http(longest).post('/set').send({ a: 1 }).expect(200);
      const expires = /Expires=([^;]+)/.exec(setCookies(res)[0])?.[1];
      expect(expires).toMatch(/^\w{3}, \d{2} \w{3} 2\d{3} \d{2}:\d{2}:\d{2} GMT$/);
    } finally {
      await longest.close();
    }
  });

  it('refuses cookie options browsers would drop, saying what to set', async () => {
    const cases: Array<[object, RegExp]> = [
      [{ name: '__Host-sid' }, /'__Host-' cookie name needs cookie.secure: true/],
      [{ name: '__Host-sid', secure: true, path: '/app' }, /'__Host-' cookie name needs cookie.path '\/'/],
      [
        { name: '__Host-sid', secure: true, domain: 'example.com' },
        /'__Host-' cookie name cannot have cookie.domain/,
      ],
      [{ name: '__Secure-sid' }, /'__Secure-' cookie name needs cookie.secure: true or 'auto'/],
      [{ sameSite: 'none' }, /sameSite 'none' needs cookie.secure true or 'auto'/],
      [{ partitioned: true }, /cookie.partitioned needs cookie.secure/],
    ];
    for (const [cookie, message] of cases) {
      await expect(createApp(platform, sessionApp({ secret: SECRET, cookie }))).rejects.toThrow(message);
    }
    const app = await createApp(
      platform,
      sessionApp({ secret: SECRET, cookie: { name: '__Host-sid', secure: true, partitioned: true } }),
    );
    await app.close();
  });
});
