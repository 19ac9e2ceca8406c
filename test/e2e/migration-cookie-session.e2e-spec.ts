import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { cookiePair, http, platforms, setCookies } from '../support/app.js';
import { clears, migratedApp, profilePath } from '../support/migration.js';
import { cookieSessionApp, signInOld } from '../support/old-apps.js';

/** cookie-session's keys, rotated: the app signed with 'old key', then with 'new key'. */
const KEYS = ['new key', 'old key'];

describe.each(platforms)('moving passport users from cookie-session on %s', (platform) => {
  const before = cookieSessionApp({ keys: ['old key'] });
  const after = cookieSessionApp({ keys: KEYS });
  let app: INestApplication;
  beforeAll(async () => {
    app = await migratedApp(platform, { migrateFrom: { cookieSession: { keys: KEYS } } });
  });
  afterAll(() => app.close());

  it('signs nobody out: passport sees the user, the data moves, both old cookies are cleared', async () => {
    for (const [old, username, password, id] of [
      [before, 'ada', 'lovelace', 1],
      [after, 'alan', 'turing', 2],
    ] as const) {
      const pair = await signInOld(old, username, password);
      expect(pair).toMatch(/^session=[^;]+; session\.sig=/);
      const res = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(200);
      expect(res.body.user).toEqual({ id, username });
      expect(clears(res, 'session')).toBe(true);
      expect(clears(res, 'session.sig')).toBe(true);
      const moved = cookiePair(res, 'nest_session')!;
      await http(app).get(profilePath(platform)).set('Cookie', moved).expect(200);
      await http(app)
        .get('/session')
        .set('Cookie', moved)
        .expect(200, { passport: { user: id }, cart: ['book'] });
      await http(app).get('/flash/info').set('Cookie', moved).expect(200, ['Welcome back']);
    }
  });

  it('ignores a cookie whose data was changed under its signature', async () => {
    const pair = await signInOld(before, 'ada', 'lovelace');
    const forged = Buffer.from(JSON.stringify({ passport: { user: 2 } })).toString('base64');
    const res = await http(app)
      .get(profilePath(platform))
      .set('Cookie', pair.replace(/^session=[^;]+/, `session=${forged}`))
      .expect(403);
    expect(setCookies(res)).toEqual([]);
  });
});
