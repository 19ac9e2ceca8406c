import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fastifySession from '@fastify/session';
import type { INestApplication } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { cookiePair, http, platforms, setCookies } from '../support/app.js';
import { callback } from '../support/express-session-stores.js';
import { clears, migratedApp } from '../support/migration.js';
import { fastifySessionApp, signInOld } from '../support/old-apps.js';

/** @fastify/session's secret, rotated: the app signed with the second, then with the first. */
const SECRETS = ['a new secret of thirty-two characters', 'an old secret of thirty-two characters'];
/** The id a @fastify/session cookie pair carries (its value is `<id>.<signature>`, URL-encoded). */
const oldId = (pair: string) => {
  const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1).split(';')[0]);
  return value.slice(0, value.lastIndexOf('.'));
};

describe.each(platforms)('moving users from @fastify/session + @fastify/passport on %s', (platform) => {
  // @fastify/session's own store, shared by the old app and the new one (one process).
  const store = new fastifySession.MemoryStore();
  let before: FastifyInstance;
  let after: FastifyInstance;
  let app: INestApplication;
  beforeAll(async () => {
    before = await fastifySessionApp({ store, secret: SECRETS[1] });
    after = await fastifySessionApp({ store, secret: SECRETS });
    app = await migratedApp(platform, { migrateFrom: { fastifySession: { secret: SECRETS, store } } });
  });
  afterAll(async () => {
    await app.close();
    await before.close();
    await after.close();
  });

  it('moves the session @fastify/passport signed in, drops its cookie object, ends the old one', async () => {
    for (const [old, username, password, id] of [
      [before, 'ada', 'lovelace', 1],
      [after, 'alan', 'turing', 2],
    ] as const) {
      const pair = await signInOld(old, username, password);
      expect(await callback((cb) => store.get(oldId(pair), cb))).toBeDefined();
      const res = await http(app).get('/session').set('Cookie', pair).expect(200);
      // @fastify/passport keeps the serialized user itself under 'passport'.
      expect(res.body).toEqual({ passport: id, cart: ['book'] });
      expect(clears(res, 'sessionId')).toBe(true);
      expect(await callback((cb) => store.get(oldId(pair), cb))).toBeUndefined();
      const moved = cookiePair(res, 'nest_session')!;
      await http(app)
        .get('/session')
        .set('Cookie', moved)
        .expect(200, { passport: id, cart: ['book'] });
    }
  });

  it('ignores a cookie with a forged signature, without reading the store', async () => {
    const pair = await signInOld(before, 'ada', 'lovelace');
    const get = store.get.bind(store);
    let reads = 0;
    store.get = (id, cb) => {
      reads++;
      get(id, cb);
    };
    try {
      const forged = `sessionId=${encodeURIComponent(`${oldId(pair)}.${'A'.repeat(43)}`)}`;
      const res = await http(app).get('/session').set('Cookie', forged).expect(200, {});
      expect(setCookies(res)).toEqual([]);
      expect(reads).toBe(0);
    } finally {
      store.get = get;
    }
  });
});
