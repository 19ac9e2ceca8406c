import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import passport from 'passport';
import { agent, http } from '../../support/app.js';
import { boot, drivers, sessionCookie, type Way } from '../../support/ecosystem/boot.js';
import { passportApp } from '../../support/ecosystem/passport-app.js';

/** Login, a protected route, logout; `by` picks the protected routes' variant ('' or '-by-guard'). */
async function loginLogout(app: INestApplication, driver: string, by: string) {
  const a = agent(app);
  const anonymous = sessionCookie(await a.post('/cart').expect(200))!;
  await a.get(`/profile${by}`).expect(403);

  await a.post('/login').send({ username: 'ada', password: 'wrong' }).expect(401);
  const login = await a.post('/login').send({ username: 'ada', password: 'lovelace' }).expect(200);
  expect(login.body).toEqual({ id: 1, username: 'ada' });
  const signedIn = sessionCookie(login)!;
  expect(signedIn).toBeDefined();
  expect(signedIn).not.toBe(anonymous);
  // express-session's regenerate: what the anonymous session held is not carried over.
  await a.get('/session').expect(200, { passport: { user: 1 }, lastLogin: 'ada' });
  await a.get(`/profile${by}`).expect(200, { user: { id: 1, username: 'ada' }, lastLogin: 'ada' });

  const logout = await a.post(`/logout${by}`).expect(200);
  const signedOut = sessionCookie(logout);
  expect(signedOut).not.toBe(signedIn);
  await a.get(`/profile${by}`).expect(403);
  await a.get('/session').expect(200, {});
  // The signed-in cookie, replayed, is no one's session any more (a server-side session's
  // record is gone; the cookie driver's session is the cookie itself, as with cookie-session).
  if (driver !== 'cookie') {
    await http(app).get(`/profile${by}`).set('Cookie', `nest_session=${signedIn}`).expect(403);
  }
}

type Setup = { where: 'main.ts' | 'a module'; way: Way };
const setups: Setup[] = [
  { where: 'main.ts', way: 'main.ts' },
  { where: 'main.ts', way: 'testing module' },
  { where: 'a module', way: 'main.ts' },
];
const cases = drivers.flatMap((driver) =>
  setups.map((setup) => [driver, setup.where, setup.way, setup] as const),
);

describe.each(cases)(
  'passport 0.7 + @nestjs/passport + passport-local on Express (%s driver, passport middleware in %s, app made as in %s)',
  (driver, _where, _way, setup) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot('express', passportApp(driver, setup.where === 'a module'), {
        way: setup.way,
        express:
          setup.where === 'main.ts'
            ? (app) => {
                app.use(passport.initialize());
                app.use(passport.session());
              }
            : undefined,
      });
    });
    afterAll(() => app.close());

    it('login gives a new session id and keeps the user; logout forgets them, old cookies too', async () => {
      await loginLogout(app, driver, '');
    });

    it('login with keepSessionInfo keeps what the session held (a new id still)', async () => {
      const a = agent(app);
      const anonymous = sessionCookie(await a.post('/cart').expect(200))!;
      const login = await a.post('/login?keep').send({ username: 'alan', password: 'turing' }).expect(200);
      expect(sessionCookie(login)).not.toBe(anonymous);
      await a.get('/session').expect(200, { cart: ['book'], passport: { user: 2 }, lastLogin: 'alan' });
    });

    it("two users' sessions stay apart", async () => {
      const ada = agent(app);
      const alan = agent(app);
      await ada.post('/login').send({ username: 'ada', password: 'lovelace' }).expect(200);
      await alan.post('/login').send({ username: 'alan', password: 'turing' }).expect(200);
      await ada.get('/profile').expect(200, { user: { id: 1, username: 'ada' }, lastLogin: 'ada' });
      await alan.get('/profile').expect(200, { user: { id: 2, username: 'alan' }, lastLogin: 'alan' });
      await http(app).get('/profile').expect(403);
    });
  },
);

describe.each(drivers)(
  'passport 0.7 + @nestjs/passport + passport-local on Fastify (%s driver)',
  (driver) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot('fastify', passportApp(driver), {
        // What main.ts has on Express. Under middie, passport's middleware get the raw request, not
        // the one Nest's guards see: the protected routes use AuthGuard('session') instead.
        fastify: (app) => {
          app.use(passport.initialize());
          app.use(passport.session());
        },
      });
    });
    afterAll(() => app.close());

    it('login gives a new session id and keeps the user; logout forgets them, old cookies too', async () => {
      await loginLogout(app, driver, '-by-guard');
    });

    it("passport.session() under middie sees the session, but Nest's request is another object", async () => {
      const a = agent(app);
      await a.post('/login').send({ username: 'ada', password: 'lovelace' }).expect(200);
      await a.get('/profile-by-guard').expect(200);
      await a.get('/profile').expect(403);
    });
  },
);

describe('passport on the memory driver: req.session.signIn() binds the signed-in user', () => {
  describe.each(['express', 'fastify'] as const)('on %s', (platform) => {
    let app: INestApplication;
    beforeAll(async () => {
      const middleware = (nest: { use(handler: unknown): unknown }) => {
        nest.use(passport.initialize());
        nest.use(passport.session());
      };
      app = await boot(platform, passportApp('memory'), { express: middleware, fastify: middleware });
    });
    afterAll(() => app.close());

    it('lists the session under the user, labelled, and passport still sees the user', async () => {
      const a = agent(app);
      await a.post('/login-bound').send({ username: 'alan', password: 'turing' }).expect(200, { userId: 2 });
      const devices = await a.get('/devices/2').expect(200);
      expect(devices.body).toHaveLength(1);
      expect(devices.body[0]).toMatchObject({ current: true, label: 'passport' });
      await a
        .get('/session')
        .expect(200)
        .expect((r) => expect(r.body.passport).toEqual({ user: 2 }));
    });
  });
});
