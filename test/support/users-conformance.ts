import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { SessionModuleOptions } from 'nest-session';
import { agent, cookiePair, createApp, http, platforms, setCookies } from './app.js';
import type { ConformanceOptions } from './conformance.js';
import { ONLY_DATE } from './fixtures.js';
import { hold } from './session-app.js';
import { usersApp } from './users-app.js';

const DAY = 24 * 60 * 60 * 1000;
const HANDLE = /^[A-Za-z0-9_-]{16}$/;

let users = 0;
/** A user id no other test of the run uses. */
const newUser = (what: string) => `${what}-${process.pid}-${++users}`;

/**
 * Users and their devices, through real HTTP on Express and Fastify: sign-in binding, the registry's
 * list and revocations, limits and policies. Every driver that keeps the user index runs it.
 */
export function usersConformance(
  label: string,
  spec: ConformanceOptions & {
    /**
     * users.maxPerUser is checked by a read, then a write (the cookie driver on a store others write
     * in between): two sign-ins at once may both be answered 200, and the limit holds for the
     * sessions that can be used, which every request's check counts.
     */
    limitRaces?: boolean;
  },
): void {
  const base = () => (typeof spec.options === 'function' ? spec.options() : spec.options);
  const cookieName = base().cookie?.name ?? 'nest_session';
  // The driver's own users options (the cookie driver's revocationStore) stay under the suite's.
  const make = (platform: 'express' | 'fastify', extra: Partial<SessionModuleOptions> = {}) => {
    const options = base();
    const users = { ...options.users, ...extra.users };
    return createApp(platform, usersApp({ ...options, ...extra, users }, spec.imports?.() ?? []));
  };

  describe.each(spec.platforms ?? platforms)(`${label}, users and their devices, on %s`, (platform) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await make(platform, {
        users: { device: { ip: 'full' } },
        policies: {
          remember: { idleTimeout: 30 * DAY, lifetime: 90 * DAY },
          kiosk: { idleTimeout: 5 * 60_000, lifetime: 8 * 60 * 60_000, persistent: false },
        },
      });
    });
    afterAll(() => app.close());
    afterEach(() => {
      jest.useRealTimers();
      hold.reset();
    });

    /**
     * How long, at least, a cookie of the 'remember' policy (idle 30 days, lifetime 90) lives: its
     * lifetime for a server-side driver's id; its idle end for a sealed cookie, sent again as it is used.
     */
    const policyCookie = (spec.serverSide ? 80 : 25) * DAY;

    /** A browser on its own device: a cookie jar and a User-Agent. */
    const device = (name: string) => {
      const a = agent(app);
      return {
        get: (path: string) => a.get(path).set('User-Agent', name),
        post: (path: string) => a.post(path).set('User-Agent', name),
      };
    };

    it('signIn(): a new id, the data kept, the old id retired, the session bound to the user', async () => {
      const laptop = device('Laptop');
      const first = await laptop
        .post('/users/set')
        .send({ cart: [1, 2] })
        .expect(200);
      const oldPair = cookiePair(first, cookieName)!;
      const user = newUser('a');
      const res = await laptop.post(`/users/sign-in/${user}?label=Work`).expect(200);
      expect(res.body.userId).toBe(user);
      expect(res.body.handle).toMatch(HANDLE);
      expect(cookiePair(res, cookieName)).not.toBe(oldPair);
      const me = await laptop.get('/users/me').expect(200);
      expect(me.body).toMatchObject({ userId: user, handle: res.body.handle, data: { cart: [1, 2] } });
      const old = await http(app).get('/users/me').set('Cookie', oldPair).expect(200);
      // A server-side driver retired it; an anonymous sealed cookie cannot be: it stays anonymous.
      expect(old.body).toMatchObject({ userId: null, data: spec.serverSide ? {} : { cart: [1, 2] } });
    });

    it('list(): live sessions only, newest first, the current one marked, never an id', async () => {
      const user = newUser('list');
      const phone = device('Phone');
      const laptop = device('Laptop');
      await phone.post(`/users/sign-in/${user}?label=Phone`).expect(200);
      const signedIn = await laptop.post(`/users/sign-in/${user}`).expect(200);
      const list = await laptop.get(`/users/list/${user}`).expect(200);
      expect(list.body).toHaveLength(2);
      const [newest, oldest] = list.body;
      expect(newest).toMatchObject({ current: true, userAgent: 'Laptop', handle: signedIn.body.handle });
      expect(oldest).toMatchObject({ current: false, userAgent: 'Phone', label: 'Phone' });
      expect(new Date(newest.createdAt).getTime()).toBeGreaterThanOrEqual(
        new Date(oldest.createdAt).getTime(),
      );
      for (const entry of list.body) {
        expect(Object.keys(entry).sort()).toEqual(
          [
            'createdAt',
            'current',
            'driver',
            'expiresAt',
            'handle',
            'ip',
            'label',
            'lastSeenAt',
            'policy',
            'userAgent',
          ]
            .filter((key) => entry[key] !== undefined)
            .sort(),
        );
        expect(entry.handle).toMatch(HANDLE);
        expect(typeof entry.ip).toBe('string');
        const cookieValue = cookiePair(signedIn, cookieName)!.split('=')[1];
        expect(JSON.stringify(entry)).not.toContain(cookieValue.split('.')[0]);
      }
      // From outside the user's requests: nothing is current.
      const outside = await http(app).get(`/users/list/${user}`).expect(200);
      expect(outside.body.map((e: { current: boolean }) => e.current)).toEqual([false, false]);
      await http(app)
        .get(`/users/list/${newUser('nobody')}`)
        .expect(200, []);
    });

    it('regenerate() keeps the binding: one entry, under a new handle', async () => {
      const user = newUser('regen');
      const laptop = device('Laptop');
      const signedIn = await laptop.post(`/users/sign-in/${user}`).expect(200);
      const regenerated = await laptop.post('/users/regenerate').expect(200);
      expect(regenerated.body.handle).not.toBe(signedIn.body.handle);
      const list = await laptop.get(`/users/list/${user}`).expect(200);
      expect(list.body.map((e: { handle: string }) => e.handle)).toEqual([regenerated.body.handle]);
      await laptop
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(user));
    });

    it('revoke(): that device only; its next request is anonymous; another user cannot revoke it', async () => {
      const user = newUser('revoke');
      const phone = device('Phone');
      const laptop = device('Laptop');
      const phoneIn = await phone.post(`/users/sign-in/${user}`).expect(200);
      await laptop.post(`/users/sign-in/${user}`).expect(200);
      const other = newUser('other');
      await http(app).post(`/users/revoke/${other}/${phoneIn.body.handle}`).expect(200, { revoked: false });
      await http(app).post(`/users/revoke/${user}/not-a-handle`).expect(200, { revoked: false });
      await http(app)
        .post(`/users/revoke/${user}/${'A'.repeat(16)}`)
        .expect(200, { revoked: false });
      await laptop.post(`/users/revoke/${user}/${phoneIn.body.handle}`).expect(200, { revoked: true });
      const phoneMe = await phone.get('/users/me').expect(200);
      expect(phoneMe.body).toMatchObject({ userId: null, data: {} });
      await laptop
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(user));
      await http(app).get(`/users/count/${user}`).expect(200, { count: 1 });
    });

    (spec.serverSide ? it : it.skip)(
      'revoke(): a request in flight on the revoked session writes nothing (409)',
      async () => {
        const user = newUser('flight');
        const phone = device('Phone');
        const phoneIn = await phone.post(`/users/sign-in/${user}`).expect(200);
        const pair = cookiePair(phoneIn, cookieName)!;
        const inFlight = http(app)
          .post('/users/held-set')
          .set('Cookie', pair)
          .then((r) => r);
        await hold.held(1);
        await http(app).post(`/users/revoke/${user}/${phoneIn.body.handle}`).expect(200, { revoked: true });
        hold.release(['users:set']);
        const res = await inFlight;
        expect(res.status).toBe(409);
        expect(cookiePair(res, cookieName)).toBeUndefined();
        await http(app).get(`/users/count/${user}`).expect(200, { count: 0 });
      },
    );

    (spec.serverSide ? it.skip : it)(
      'revoke(): a request in flight on the revoked session is answered, and its cookie is then anonymous and cleared',
      async () => {
        // Nothing is stored to refuse its change (no 409 on a stateless driver): the request passed its
        // check before the revocation, its response carries its change in its cookie, and that cookie's
        // next request is anonymous, nothing of it usable, and clears it.
        const user = newUser('flight');
        const phone = device('Phone');
        const phoneIn = await phone.post(`/users/sign-in/${user}`).expect(200);
        const pair = cookiePair(phoneIn, cookieName)!;
        const inFlight = http(app)
          .post('/users/held-set')
          .set('Cookie', pair)
          .then((r) => r);
        await hold.held(1);
        await http(app).post(`/users/revoke/${user}/${phoneIn.body.handle}`).expect(200, { revoked: true });
        hold.release(['users:set']);
        const res = await inFlight;
        expect(res.status).toBe(200);
        const carried = cookiePair(res, cookieName)!;
        expect(carried).toBeDefined();
        const next = await http(app).get('/users/me').set('Cookie', carried).expect(200);
        expect(next.body).toMatchObject({ userId: null, handle: null, data: {} });
        expect(setCookies(next).some((c) => c.startsWith(`${cookieName}=;`))).toBe(true);
        await http(app).get(`/users/count/${user}`).expect(200, { count: 0 });
      },
    );

    it('revokeOthers() keeps the current session; revokeAll() ends every one', async () => {
      const user = newUser('others');
      const [a, b, c] = [device('A'), device('B'), device('C')];
      for (const d of [a, b, c]) await d.post(`/users/sign-in/${user}`).expect(200);
      await b.post('/users/revoke-others').expect(200, { revoked: 2 });
      await b
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(user));
      for (const d of [a, c])
        await d
          .get('/users/me')
          .expect(200)
          .expect((r) => expect(r.body.userId).toBe(null));
      await a.post(`/users/sign-in/${user}`).expect(200);
      await http(app).post(`/users/revoke-all/${user}`).expect(200, { revoked: 2 });
      for (const d of [a, b])
        await d
          .get('/users/me')
          .expect(200)
          .expect((r) => expect(r.body.userId).toBe(null));
      await http(app).get(`/users/count/${user}`).expect(200, { count: 0 });
      // Not signed in: nothing to revoke.
      await device('D').post('/users/revoke-others').expect(200, { revoked: 0 });
    });

    it('signOut() destroys and unbinds: the user no longer lists it', async () => {
      const user = newUser('out');
      const laptop = device('Laptop');
      await laptop.post(`/users/sign-in/${user}`).expect(200);
      const out = await laptop.post('/users/sign-out').expect(200);
      expect(setCookies(out).some((c) => c.startsWith(`${cookieName}=;`))).toBe(true);
      await http(app).get(`/users/count/${user}`).expect(200, { count: 0 });
    });

    it('takes a number as a user id and refuses what is not an id with a TypeError', async () => {
      await device('N').post('/users/sign-in-number/42').expect(200, { userId: '42' });
      for (const id of ['', null, {}, 'x'.repeat(257)]) {
        await http(app).post('/users/sign-in-bad').send({ id }).expect(200, { error: 'TypeError' });
      }
    });

    it('remember me: the policy is kept with the session, across regenerate, and its cookie lives as long', async () => {
      const start = Date.now();
      jest.useFakeTimers({ now: start, doNotFake: [...ONLY_DATE] });
      const user = newUser('remember');
      const laptop = device('Laptop');
      const res = await laptop.post(`/users/sign-in/${user}?policy=remember`).expect(200);
      expect(res.body.policy).toBe('remember');
      const expires = /Expires=([^;]+)/.exec(
        setCookies(res).find((c) => c.startsWith(`${cookieName}=`))!,
      )![1];
      expect(new Date(expires).getTime()).toBeGreaterThan(start + policyCookie);
      await laptop.post('/users/regenerate').expect(200);
      // Past the default idleTimeout (2 h) and lifetime (14 days), within the policy's.
      jest.setSystemTime(start + 20 * DAY);
      await laptop
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body).toMatchObject({ userId: user, policy: 'remember' }));
      const left = await laptop.get('/users/time-left').expect(200);
      expect(left.body.absolute).toBeGreaterThan(60 * DAY);
      jest.setSystemTime(start + 20 * DAY + 31 * DAY);
      await laptop
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(null));
    });

    it('a policy that is not persistent sends a browser-session cookie and keeps a short idle window', async () => {
      const start = Date.now();
      jest.useFakeTimers({ now: start, doNotFake: [...ONLY_DATE] });
      const kiosk = device('Kiosk');
      const res = await kiosk.post(`/users/sign-in/${newUser('kiosk')}?policy=kiosk`).expect(200);
      const cookie = setCookies(res).find((c) => c.startsWith(`${cookieName}=`))!;
      expect(cookie).not.toMatch(/Expires=|Max-Age=/);
      jest.setSystemTime(start + 4 * 60_000);
      await kiosk
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.policy).toBe('kiosk'));
      jest.setSystemTime(start + 4 * 60_000 + 6 * 60_000);
      await kiosk
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(null));
    });

    it('usePolicy() changes the cookie expiry on the same id; an unknown policy is refused', async () => {
      const laptop = device('Laptop');
      const first = await laptop.post('/users/set').send({ a: 1 }).expect(200);
      const before = cookiePair(first, cookieName)!;
      const res = await laptop.post('/users/policy?name=remember').expect(200, { policy: 'remember' });
      const after = setCookies(res).find((c) => c.startsWith(`${cookieName}=`))!;
      // The same id; a sealed cookie is sealed again, so only a server-side driver's value stays.
      if (spec.serverSide) expect(after.split(';')[0]).toBe(before);
      expect(new Date(/Expires=([^;]+)/.exec(after)![1]).getTime()).toBeGreaterThan(
        Date.now() + policyCookie,
      );
      const unknown = await laptop.post('/users/policy?name=forever');
      expect(unknown.status).toBe(500);
      expect(unknown.body.code).toBe('SESSION_POLICY_UNKNOWN');
    });
  });

  describe.each(spec.platforms ?? platforms)(`${label}, users.maxPerUser, on %s`, (platform) => {
    let oldest: INestApplication;
    let reject: INestApplication;
    beforeAll(async () => {
      oldest = await make(platform, { users: { maxPerUser: 2 } });
      reject = await make(platform, { users: { maxPerUser: 2, onLimit: 'reject' } });
    });
    afterAll(async () => {
      await oldest.close();
      await reject.close();
    });

    it("'revoke-oldest': a third sign-in signs the earliest out", async () => {
      const user = newUser('limit');
      const [a, b, c] = [agent(oldest), agent(oldest), agent(oldest)];
      for (const d of [a, b, c]) await d.post(`/users/sign-in/${user}`).expect(200);
      await http(oldest).get(`/users/count/${user}`).expect(200, { count: 2 });
      await a
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(null));
      for (const d of [b, c])
        await d
          .get('/users/me')
          .expect(200)
          .expect((r) => expect(r.body.userId).toBe(user));
    });

    it("'reject': a third sign-in is a 409 SESSION_USER_LIMIT and keeps nothing", async () => {
      const user = newUser('reject');
      const [a, b, c] = [agent(reject), agent(reject), agent(reject)];
      for (const d of [a, b]) await d.post(`/users/sign-in/${user}`).expect(200);
      const refused = await c.post(`/users/sign-in/${user}`);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('SESSION_USER_LIMIT');
      await c
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(null));
      await http(reject).get(`/users/count/${user}`).expect(200, { count: 2 });
    });

    it(
      spec.limitRaces
        ? 'two sign-ins at once: never more sessions usable than the limit, and a refused one is anonymous'
        : 'two sign-ins at once cannot both pass the limit',
      async () => {
        const user = newUser('race');
        const [a, b, c] = [agent(reject), agent(reject), agent(reject)];
        await a.post(`/users/sign-in/${user}`).expect(200);
        const both = await Promise.all([b, c].map((d) => d.post(`/users/sign-in/${user}`)));
        const statuses = both.map((r) => r.status).sort();
        if (spec.limitRaces)
          expect([
            [200, 409],
            [200, 200],
          ]).toContainEqual(statuses);
        else expect(statuses).toEqual([200, 409]);
        await http(reject).get(`/users/count/${user}`).expect(200, { count: 2 });
        const signedIn = await Promise.all([a, b, c].map((d) => d.get('/users/me').expect(200)));
        expect(signedIn.filter((r) => r.body.userId === user)).toHaveLength(2);
        both.forEach((r, i) => {
          if (r.status === 409) expect(signedIn[i + 1].body.userId).toBe(null);
        });
      },
    );
  });
}
