import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import type { SessionModuleOptions } from 'nest-session';
import { agent, cookiePair, createApp, http, platforms, setCookies, type Platform } from './app.js';
import { ONLY_DATE } from './fixtures.js';
import { RecordingLogger } from './logger.js';
import { barrier, counters, hold, sessionApp } from './session-app.js';

export interface ConformanceOptions {
  /**
   * forRoot options of the driver under test (secret included); a function gives each app the suite
   * builds options of its own (a directory, a SQLite file, a table, a key prefix).
   */
  options: SessionModuleOptions | (() => SessionModuleOptions);
  /** Extra modules the app needs (a TypeORM module, say). */
  imports?: () => Array<Type | DynamicModule>;
  /** Server-side stores apply change sets atomically; the cookie driver's last response wins instead. */
  serverSide: boolean;
  /** Runs before each app closes, for drivers that need cleanup. */
  platforms?: Platform[];
}

/**
 * The behaviour every driver owes its users, through real HTTP on Express and on Fastify. Each driver's
 * spec calls this with its own options.
 */
export function sessionConformance(label: string, spec: ConformanceOptions): void {
  const options = () => (typeof spec.options === 'function' ? spec.options() : spec.options);
  const cookieName = options().cookie?.name ?? 'nest_session';

  describe.each(spec.platforms ?? platforms)(`${label} on %s`, (platform) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(platform, sessionApp(options(), spec.imports?.() ?? []));
    });
    afterAll(() => app.close());
    afterEach(() => {
      jest.useRealTimers();
    });

    describe('data', () => {
      it('writes nothing and sets no cookie for an untouched new session', async () => {
        const res = await http(app).get('/untouched').expect(200);
        expect(setCookies(res)).toEqual([]);
        const state = await http(app).get('/state').expect(200);
        expect(state.body.isNew).toBe(true);
        expect(setCookies(state)).toEqual([]);
      });

      it('keeps set values, falsy ones included, with get/has/all/delete/pull', async () => {
        const a = agent(app);
        const res = await a.post('/set').send({ n: 0, s: '', f: false, nil: null, obj: { deep: [1, 2] } });
        expect(res.status).toBe(200);
        expect(setCookies(res).some((c) => c.startsWith(`${cookieName}=`))).toBe(true);
        await a.get('/get/n').expect(200, { value: 0, has: true });
        await a.get('/get/s').expect(200, { value: '', has: true });
        await a.get('/get/f').expect(200, { value: false, has: true });
        await a.get('/get/nil').expect(200, { value: null, has: true });
        await a.get('/get/missing').expect(200, { value: null, has: false });
        const state = await a.get('/state').expect(200);
        expect(state.body.isNew).toBe(false);
        expect(state.body.data).toEqual({ n: 0, s: '', f: false, nil: null, obj: { deep: [1, 2] } });
        await a.post('/delete/n').expect(200, { deleted: true });
        await a.post('/delete/n').expect(200, { deleted: false });
        await a.post('/pull/s').expect(200, { value: '' });
        const after = await a.get('/state').expect(200);
        expect(after.body.data).toEqual({ f: false, nil: null, obj: { deep: [1, 2] } });
      });

      it('gives each request its own session and keeps injecting controllers and services singletons', async () => {
        const before = { ...counters };
        const a = agent(app);
        const b = agent(app);
        await a.post('/cart/apple').expect(200, ['apple']);
        await b.post('/cart/pear').expect(200, ['pear']);
        await a.post('/cart/plum').expect(200, ['apple', 'plum']);
        expect(counters).toEqual(before);
      });

      it("is the same session as req.session, so Nest's @Session() works", async () => {
        const a = agent(app);
        await a.post('/set').send({ userId: 42 }).expect(200);
        await a.get('/nest-session').expect(200, { userId: 42, injectedSeesSame: true });
      });

      it('is loaded before guards run', async () => {
        const a = agent(app);
        await a.get('/guarded').expect(403);
        await a.post('/set').send({ userId: 5 }).expect(200);
        await a.get('/guarded').expect(200, { userId: 5 });
      });

      it('merges its cookie with the cookies the app sets', async () => {
        const res = await http(app).post('/own-cookie').expect(200);
        const names = setCookies(res).map((c) => c.split('=')[0]);
        expect(names).toEqual(expect.arrayContaining(['app', cookieName]));
      });

      it.each([
        'function',
        'symbol',
        'bigint',
        'circular',
        'map',
        'nested',
        'deep',
        'tojson-undefined',
        'tojson-bigint',
      ])('rejects a %s value with a TypeError naming the key', async (kind) => {
        const res = await http(app).post(`/json/${kind}`).expect(200);
        expect(res.body.error).toBe('TypeError');
        expect(res.body.message).toContain(`'${kind}'`);
        expect(setCookies(res)).toEqual([]);
      });
    });

    describe('keys that name Object.prototype members', () => {
      const names = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

      it("keeps set('__proto__', …) and friends as ordinary keys, never as other keys", async () => {
        const a = agent(app);
        await a.post('/set').send({ warm: true }).expect(200);
        await a.post('/proto/set').expect(200, { isAdmin: null, has: false });
        const state = await a.get('/state').expect(200);
        expect(Object.keys(state.body.data).sort()).toEqual(['warm', ...names].sort());
        expect(Object.hasOwn(state.body.data, 'isAdmin')).toBe(false);
        expect(state.body.data['__proto__']).toEqual({ isAdmin: true });
        expect(state.body.data.constructor).toEqual({ prototype: { isAdmin: true } });
        expect(state.body.data.toString).toBe('text');
        await a.get('/get/isAdmin').expect(200, { value: null, has: false });
        await a.get('/get/toString').expect(200, { value: 'text', has: true });
        // A second request merges into what the store holds: the keys survive a change set too.
        await a.post('/set').send({ more: 1 }).expect(200);
        const after = await a.get('/state').expect(200);
        expect(Object.keys(after.body.data).sort()).toEqual(['more', 'warm', ...names].sort());
        expect(after.body.data['__proto__']).toEqual({ isAdmin: true });
      });

      it("keeps flash('__proto__', …) and friends as ordinary flash keys, cleared as any other", async () => {
        const a = agent(app);
        await a.post('/set').send({ warm: true }).expect(200);
        await a.post('/proto/flash').expect(200, { isAdmin: null, has: false });
        // The flashing request's own 2xx cleared them; flash them again past a redirect.
        expect((await a.get('/poll').expect(200)).body).toEqual({});
        await a.post('/set').send({ again: true }).expect(200);
        const flashed = await a.post('/proto-flash-redirect').expect(303);
        expect(flashed.status).toBe(303);
        const polled = await a.get('/poll').expect(200);
        expect(Object.keys(polled.body).sort()).toEqual([...names].sort());
        expect(polled.body['__proto__']).toEqual({ isAdmin: true });
        await a.get('/get/isAdmin').expect(200, { value: null, has: false });
        const state = await a.get('/state').expect(200);
        expect(Object.hasOwn(state.body.data, 'isAdmin')).toBe(false);
        expect(Object.keys(state.body.data).sort()).toEqual(['again', 'warm']);
        await a.get('/read-flash').expect(200);
        expect((await a.get('/poll').expect(200)).body).toEqual({});
      });
    });

    describe('keys with a lone surrogate', () => {
      // '\uD800a' and '\uDC00a' are two strings that UTF-8 would both turn into '\uFFFDa'.
      const keys = { '\uD800a': 1, '\uDC00a': 2, '\uFFFDa': 3, '\uD83D\uDE00': 4 };

      it('keeps keys that differ only in a lone surrogate apart, in data and in flash', async () => {
        const a = agent(app);
        await a.post('/set').send(keys).expect(200);
        await a.post('/flash-redirect').send(keys).expect(302);
        const state = await a.get('/state').expect(200);
        expect(state.body.data).toEqual(keys);
        expect(state.body.flash).toEqual(keys);
        await a.post('/delete/%EF%BF%BDa').expect(200, { deleted: true });
        await a.post('/set').send({ '\uD800a': 'changed' }).expect(200);
        const after = await a.get('/state').expect(200);
        expect(after.body.data).toEqual({ '\uD800a': 'changed', '\uDC00a': 2, '\uD83D\uDE00': 4 });
        await a.post('/reset').expect(200, { data: {}, flash: {} });
        expect((await a.get('/state').expect(200)).body).toMatchObject({ data: {}, flash: {} });
      });
    });

    describe('cookies', () => {
      it.each([
        ['garbage', 'garbage'],
        ['empty', ''],
        ['forged', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
        ['oversized', 'x'.repeat(8192)],
      ])('treats a %s cookie as a fresh session and never adopts it', async (_kind, value) => {
        const res = await http(app)
          .post('/set')
          .set('Cookie', `${cookieName}=${value}`)
          .send({ a: 1 })
          .expect(200);
        const pair = cookiePair(res, cookieName);
        expect(pair).toBeDefined();
        expect(pair).not.toBe(`${cookieName}=${value}`);
        const state = await http(app).get('/state').set('Cookie', `${cookieName}=${value}`).expect(200);
        expect(state.body).toMatchObject({ isNew: true, data: {} });
      });

      it('treats a cookie that was valid, then altered by one character, as a fresh session', async () => {
        const res = await http(app).post('/set').send({ a: 1 }).expect(200);
        const pair = cookiePair(res, cookieName)!;
        const value = pair.slice(cookieName.length + 1);
        const flipped = value.slice(0, 10) + (value[10] === 'A' ? 'B' : 'A') + value.slice(11);
        const state = await http(app).get('/state').set('Cookie', `${cookieName}=${flipped}`).expect(200);
        expect(state.body).toMatchObject({ isNew: true, data: {} });
        const valid = await http(app).get('/state').set('Cookie', pair).expect(200);
        expect(valid.body).toMatchObject({ isNew: false, data: { a: 1 } });
      });

      it('sets HttpOnly, SameSite=Lax and Path=/ by default', async () => {
        const res = await http(app).post('/set').send({ a: 1 }).expect(200);
        const cookie = setCookies(res).find((c) => c.startsWith(`${cookieName}=`))!;
        expect(cookie).toMatch(/; HttpOnly/);
        expect(cookie).toMatch(/; SameSite=Lax/);
        expect(cookie).toMatch(/; Path=\//);
        expect(cookie).not.toMatch(/; Secure/);
      });
    });

    describe('commit', () => {
      it.each([
        ['a returned value', '/flash', 200],
        ['@Redirect', '/flash-redirect', 302],
        ['@Res() with res.redirect', '/flash-res-redirect', 303],
        ['a thrown HttpException', '/flash-throw', 400],
        ['a StreamableFile', '/flash-stream', 200],
      ])('commits once the response ends with %s, before the next request', async (_how, path, status) => {
        const a = agent(app);
        await a.post('/set').send({ before: 1 }).expect(200);
        const res = await a.post(path).send({ note: 'x' });
        expect(res.status).toBe(status);
        const state = await a.get('/poll').expect(200);
        if (status >= 200 && status < 300) expect(state.body).toEqual({});
        else expect(state.body).toEqual({ note: 'x' });
        if (path === '/flash-stream') {
          expect(res.body.toString()).toBe('file body');
          await a.get('/get/streamed').expect(200, { value: true, has: true });
        }
      });

      it('sees what a redirecting request wrote on the request that follows it', async () => {
        const a = agent(app);
        for (let i = 0; i < 20; i++) {
          await a
            .post('/flash-redirect')
            .send({ success: `n${i}` })
            .expect(302);
          await a.get('/read-flash').expect(200, { success: `n${i}`, all: { success: `n${i}` } });
        }
      });
    });

    describe('flash', () => {
      it('is visible in the flashing request and cleared by its own 2xx', async () => {
        const a = agent(app);
        await a.post('/flash').send({ success: 'now' }).expect(200, { success: 'now' });
        await a.get('/read-flash').expect(200, { success: null, all: {} });
      });

      it('survives a redirect and is cleared by the next 2xx', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ success: 'saved' }).expect(302);
        await a.get('/read-flash').expect(200, { success: 'saved', all: { success: 'saved' } });
        await a.get('/read-flash').expect(200, { success: null, all: {} });
      });

      it('is kept by 4xx responses until a 2xx', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ success: 'kept' }).expect(302);
        await a.get('/error-after-read').expect(400);
        await a.get('/error-after-read').expect(400);
        await a.get('/read-flash').expect(200, { success: 'kept', all: { success: 'kept' } });
        await a.get('/read-flash').expect(200, { success: null, all: {} });
      });

      it('uses the final status an exception filter chose (a 404 turned into 200 clears)', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ old: 1 }).expect(302);
        await a.post('/flash-then-404').send({ fresh: 2 }).expect(200, { fallback: true });
        await a.get('/poll').expect(200, {});
      });

      it('keeps falsy flash values', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ zero: 0, empty: '', no: false }).expect(302);
        await a.get('/poll').expect(200, { zero: 0, empty: '', no: false });
        await a.get('/get/zero').expect(200, { value: 0, has: true });
      });

      it('is never cleared on a @KeepFlash() route', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ success: 'poll' }).expect(302);
        await a.get('/poll').expect(200, { success: 'poll' });
        await a.get('/poll').expect(200, { success: 'poll' });
        await a.get('/read-flash').expect(200, { success: 'poll', all: { success: 'poll' } });
        await a.get('/poll').expect(200, {});
      });

      it('is never cleared by a response no route handled (a 404)', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ success: 'stay' }).expect(302);
        await a.get('/no-such-route').expect(404);
        await a.get('/poll').expect(200, { success: 'stay' });
      });

      it('reflash() carries everything past one more 2xx', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ one: 1, two: 2 }).expect(302);
        await a.get('/reflash').expect(200, { one: 1, two: 2 });
        await a.get('/read-flash').expect(200, { success: null, all: { one: 1, two: 2 } });
        await a.get('/poll').expect(200, {});
      });

      it('keep(...keys) carries only those keys', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ one: 1, two: 2 }).expect(302);
        await a.get('/keep?keys=two').expect(200, { one: 1, two: 2 });
        await a.get('/poll').expect(200, { two: 2 });
      });

      it('get() and has() fall back to flash data', async () => {
        const a = agent(app);
        await a.post('/flash-redirect').send({ success: 'via get' }).expect(302);
        await a.get('/get/success').expect(200, { value: 'via get', has: true });
      });
    });

    describe('reset, regenerate, destroy', () => {
      it('reset() clears data and flash; reset({ flashOnly }) clears flash only', async () => {
        const a = agent(app);
        await a.post('/set').send({ keep: 1 }).expect(200);
        await a.post('/flash-redirect').send({ f: 1 }).expect(302);
        await a.post('/reset?flashOnly=true').expect(200, { data: { keep: 1 }, flash: {} });
        await a
          .get('/state')
          .expect(200)
          .expect((r) => expect(r.body.data).toEqual({ keep: 1 }));
        await a.post('/flash-redirect').send({ f: 2 }).expect(302);
        await a.post('/reset').expect(200, { data: {}, flash: {} });
        const state = await a.get('/state').expect(200);
        expect(state.body).toMatchObject({ data: {}, flash: {} });
      });

      it('regenerate() gives a new id, keeps the data, and the old cookie no longer works', async () => {
        const first = await http(app).post('/set').send({ userId: 1 }).expect(200);
        const oldPair = cookiePair(first, cookieName)!;
        const regen = await http(app).post('/regenerate').set('Cookie', oldPair).expect(200);
        expect(regen.body.after).not.toBe(regen.body.before);
        const newPair = cookiePair(regen, cookieName)!;
        expect(newPair).toBeDefined();
        expect(newPair).not.toBe(oldPair);
        const next = await http(app).get('/state').set('Cookie', newPair).expect(200);
        expect(next.body).toMatchObject({ id: regen.body.after, isNew: false, data: { userId: 1 } });
        if (spec.serverSide) {
          const old = await http(app).get('/state').set('Cookie', oldPair).expect(200);
          expect(old.body).toMatchObject({ isNew: true, data: {} });
        }
      });

      it('destroy() deletes the session and clears the cookie', async () => {
        const first = await http(app).post('/set').send({ userId: 1 }).expect(200);
        const pair = cookiePair(first, cookieName)!;
        const res = await http(app).post('/destroy').set('Cookie', pair).expect(200);
        const cleared = setCookies(res).find((c) => c.startsWith(`${cookieName}=`));
        expect(cleared).toMatch(new RegExp(`^${cookieName}=;`));
        expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
        if (spec.serverSide) {
          const old = await http(app).get('/state').set('Cookie', pair).expect(200);
          expect(old.body).toMatchObject({ isNew: true, data: {} });
        }
      });
    });

    describe('destroy, then flash', () => {
      it('ends the old session and keeps what came after destroy() in a fresh one', async () => {
        const first = await http(app).post('/set').send({ userId: 1 }).expect(200);
        const oldPair = cookiePair(first, cookieName)!;
        const res = await http(app).post('/logout').set('Cookie', oldPair).expect(303);
        const newPair = cookiePair(res, cookieName)!;
        expect(newPair).toBeDefined();
        expect(newPair).not.toBe(oldPair);
        const next = await http(app).get('/read-flash').set('Cookie', newPair).expect(200);
        expect(next.body).toEqual({ success: null, all: { info: 'signed out' } });
        const state = await http(app).get('/state').set('Cookie', newPair).expect(200);
        expect(state.body.data).toEqual({});
        if (spec.serverSide) {
          const old = await http(app).get('/state').set('Cookie', oldPair).expect(200);
          expect(old.body).toMatchObject({ isNew: true, data: {} });
        }
      });
    });

    describe('expiry, on the server', () => {
      const idle = 60_000;
      const lifetime = 300_000;
      let short: INestApplication;
      beforeAll(async () => {
        short = await createApp(
          platform,
          sessionApp({ ...options(), idleTimeout: idle, lifetime }, spec.imports?.() ?? []),
        );
      });
      afterAll(() => short.close());

      it('ends a session after idleTimeout without requests', async () => {
        const start = Date.now();
        jest.useFakeTimers({ now: start, doNotFake: [...ONLY_DATE] });
        const res = await http(short).post('/set').send({ a: 1 }).expect(200);
        const pair = cookiePair(res, cookieName)!;
        jest.setSystemTime(start + idle - 1000);
        const alive = await http(short).get('/state').set('Cookie', pair).expect(200);
        expect(alive.body).toMatchObject({ isNew: false, data: { a: 1 } });
        jest.setSystemTime(start + idle - 1000 + idle + 1000);
        const state = await http(short).get('/state').set('Cookie', pair).expect(200);
        expect(state.body).toMatchObject({ isNew: true, data: {} });
      });

      it('ends a session after lifetime, however active', async () => {
        const start = Date.now();
        jest.useFakeTimers({ now: start, doNotFake: [...ONLY_DATE] });
        let res = await http(short).post('/set').send({ a: 1 }).expect(200);
        let pair = cookiePair(res, cookieName)!;
        for (let t = idle / 2; t < lifetime; t += idle / 2) {
          jest.setSystemTime(start + t);
          res = await http(short).post('/set').set('Cookie', pair).send({ t }).expect(200);
          expect(res.body.a).toBe(1);
          pair = cookiePair(res, cookieName) ?? pair;
        }
        jest.setSystemTime(start + lifetime + 1000);
        const state = await http(short).get('/state').set('Cookie', pair).expect(200);
        expect(state.body).toMatchObject({ isNew: true, data: {} });
      });
    });

    if (spec.serverSide) {
      describe('retirement: the old id never returns, nothing acknowledged is lost', () => {
        afterEach(() => hold.reset());

        /**
         * A session with keys to delete, and 3×n requests on it (set, delete, flash) plus one that
         * regenerates or destroys, all loaded and held between load and commit. Then: the first half of
         * the writers commit, then the retiring request (whose load predates those commits), then the
         * rest. Every 2xx change must be in the session the client ends with; the others are 409s
         * that kept nothing.
         */
        async function race(how: 'regenerate' | 'destroy', n: number) {
          const seed: Record<string, unknown> = { warm: true };
          for (let i = 0; i < n; i++) seed[`d${i}`] = i;
          const first = await http(app).post('/set').send(seed).expect(200);
          const oldPair = cookiePair(first, cookieName)!;
          hold.reset();
          const tags: string[] = [];
          const requests = new Map<string, Promise<import('supertest').Response>>();
          const send = (tag: string, path: string) => {
            tags.push(tag);
            requests.set(
              tag,
              http(app)
                .post(path)
                .set('Cookie', oldPair)
                .then((r) => r),
            );
          };
          for (let i = 0; i < n; i++) {
            send(`set:k${i}`, `/held/set/k${i}`);
            send(`delete:d${i}`, `/held/delete/d${i}`);
            send(`flash:f${i}`, `/held/flash/f${i}`);
          }
          send(how, `/held/${how}`);
          await hold.held(tags.length);
          const writers = tags.filter((t) => t !== how);
          const early = writers.filter((_, i) => i % 2 === 0);
          const late = writers.filter((_, i) => i % 2 === 1);
          hold.release(early);
          const earlyRes = await Promise.all(early.map((t) => requests.get(t)!));
          hold.release([how]);
          const retiring = await requests.get(how)!;
          hold.release(late);
          const lateRes = await Promise.all(late.map((t) => requests.get(t)!));
          return { oldPair, early, late, earlyRes, retiring, lateRes };
        }

        it.each(['regenerate', 'destroy'] as const)(
          'after %s() commits, writers held across it get 2xx (kept) or 409 (nothing kept)',
          async (how) => {
            const { oldPair, early, late, earlyRes, retiring, lateRes } = await race(how, 8);
            for (const res of earlyRes) expect(res.status).toBe(200);
            expect(retiring.status).toBe(200);
            for (const res of lateRes) {
              expect(res.status).toBe(409);
              expect(res.body.message).toMatch(/^SESSION_CONFLICT/);
              expect(cookiePair(res, cookieName)).toBeUndefined();
            }
            const old = await http(app).get('/state').set('Cookie', oldPair).expect(200);
            expect(old.body).toMatchObject({ isNew: true, data: {}, flash: {} });
            expect(cookiePair(old, cookieName)).toBeUndefined();
            if (how === 'destroy') {
              expect(setCookies(retiring).find((c) => c.startsWith(`${cookieName}=`))).toMatch(
                new RegExp(`^${cookieName}=;`),
              );
              return;
            }
            const newPair = cookiePair(retiring, cookieName)!;
            expect(newPair).toBeDefined();
            const state = await http(app).get('/state').set('Cookie', newPair).expect(200);
            const keyOf = (tag: string) => tag.slice(tag.indexOf(':') + 1);
            const expected: Record<string, unknown> = { warm: true };
            for (let i = 0; i < 8; i++) expected[`d${i}`] = i;
            const flash: Record<string, unknown> = {};
            for (const tag of early) {
              if (tag.startsWith('set:')) expected[keyOf(tag)] = true;
              if (tag.startsWith('delete:')) delete expected[keyOf(tag)];
              if (tag.startsWith('flash:')) flash[keyOf(tag)] = true;
            }
            expect(state.body.data).toEqual(expected);
            expect(state.body.flash).toEqual(flash);
            expect(late.length).toBe(12);
          },
        );

        it.each(['regenerate', 'destroy'] as const)(
          'a request that brings the id %s() retired: 409 if it writes, no cookie, no resurrection',
          async (how) => {
            const first = await http(app).post('/set').send({ userId: 1 }).expect(200);
            const oldPair = cookiePair(first, cookieName)!;
            const retiring = await http(app).post(`/${how}`).set('Cookie', oldPair).expect(200);
            const write = await http(app).post('/set').set('Cookie', oldPair).send({ back: 1 }).expect(409);
            expect(write.body.message).toMatch(/^SESSION_CONFLICT/);
            expect(cookiePair(write, cookieName)).toBeUndefined();
            const flash = await http(app).post('/flash-redirect').set('Cookie', oldPair).send({ f: 1 });
            expect(flash.status).toBe(409);
            expect(cookiePair(flash, cookieName)).toBeUndefined();
            const read = await http(app).get('/state').set('Cookie', oldPair).expect(200);
            expect(read.body).toMatchObject({ isNew: true, data: {}, flash: {} });
            expect(setCookies(read)).toEqual([]);
            // Twice: the retired id is still dead after the writes it refused.
            await http(app).post('/set').set('Cookie', oldPair).send({ back: 2 }).expect(409);
            const again = await http(app).get('/state').set('Cookie', oldPair).expect(200);
            expect(again.body).toMatchObject({ isNew: true, data: {} });
            if (how === 'regenerate') {
              const next = await http(app).get('/state').set('Cookie', cookiePair(retiring, cookieName)!);
              expect(next.body).toMatchObject({ isNew: false, data: { userId: 1 } });
            }
          },
        );

        it.each(['regenerate', 'destroy'] as const)(
          'a client that lost the response to %s() can sign in again after the grace window',
          async (how) => {
            const start = Date.now();
            jest.useFakeTimers({ now: start, doNotFake: [...ONLY_DATE] });
            const first = await http(app).post('/set').send({ warm: true }).expect(200);
            const oldPair = cookiePair(first, cookieName)!;
            // The response that retires the old id (and carries the new cookie) never arrives.
            await http(app).post(`/${how}`).set('Cookie', oldPair).expect(200);
            // Within the window: nothing is written under the old id, and the cookie is left alone.
            jest.setSystemTime(start + 29_000);
            const refused = await http(app).post('/set').set('Cookie', oldPair).send({ userId: 1 });
            expect(refused.status).toBe(409);
            expect(cookiePair(refused, cookieName)).toBeUndefined();
            // After it: a fresh session under a new id, with its cookie; the old id stays dead.
            jest.setSystemTime(start + 31_000);
            const again = await http(app).post('/set').set('Cookie', oldPair).send({ userId: 1 });
            expect(again.status).toBe(200);
            const newPair = cookiePair(again, cookieName)!;
            expect(newPair).toBeDefined();
            expect(newPair).not.toBe(oldPair);
            const state = await http(app).get('/state').set('Cookie', newPair).expect(200);
            expect(state.body).toMatchObject({ isNew: false, data: { userId: 1 } });
            const old = await http(app).get('/state').set('Cookie', oldPair).expect(200);
            expect(old.body).toMatchObject({ isNew: true, data: {} });
          },
        );

        it('a second regenerate() of an id already retired gets 409 and no cookie', async () => {
          const first = await http(app).post('/set').send({ warm: true }).expect(200);
          const oldPair = cookiePair(first, cookieName)!;
          hold.reset();
          const one = http(app)
            .post('/held/regenerate')
            .set('Cookie', oldPair)
            .then((r) => r);
          await hold.held(1);
          hold.release(['regenerate']);
          const won = await one;
          expect(won.status).toBe(200);
          const two = http(app)
            .post('/held/regenerate')
            .set('Cookie', oldPair)
            .then((r) => r);
          await hold.held(1);
          hold.release(['regenerate']);
          // The second request brought an id retired before it loaded: a retired session, 409.
          const lost = await two;
          expect(lost.status).toBe(409);
          expect(cookiePair(lost, cookieName)).toBeUndefined();
          const state = await http(app).get('/state').set('Cookie', cookiePair(won, cookieName)!);
          expect(state.body).toMatchObject({ isNew: false, data: { warm: true } });
        });

        it('two regenerate() held across each other: one wins, the other gets 409', async () => {
          const first = await http(app).post('/set').send({ warm: true }).expect(200);
          const oldPair = cookiePair(first, cookieName)!;
          hold.reset();
          const a = http(app)
            .post('/held/regenerate')
            .set('Cookie', oldPair)
            .then((r) => r);
          await hold.held(1);
          const b = http(app)
            .post('/held/set/late')
            .set('Cookie', oldPair)
            .then((r) => r);
          await hold.held(2);
          hold.release(['regenerate']);
          const won = await a;
          expect(won.status).toBe(200);
          hold.release(['set:late']);
          expect((await b).status).toBe(409);
          const state = await http(app).get('/state').set('Cookie', cookiePair(won, cookieName)!);
          expect(state.body.data).toEqual({ warm: true });
        });
      });

      describe('maxSize', () => {
        let sized: INestApplication;
        const logger = new RecordingLogger();
        beforeAll(async () => {
          sized = await createApp(platform, sessionApp(options(), spec.imports?.() ?? []), logger);
        });
        afterAll(() => sized.close());

        it.each([
          ['ASCII', 'x'],
          ['two-byte UTF-8', 'é'],
        ])(
          'answers 500 SESSION_TOO_LARGE past 512 KiB (%s), keeps nothing, and the session goes on',
          async (_label, char) => {
            const first = await http(sized).post('/set').send({ a: 1 }).expect(200);
            const pair = cookiePair(first, cookieName)!;
            const q = `char=${encodeURIComponent(char)}`;
            await http(sized)
              .post(`/big/fits?bytes=${400 * 1024}&${q}`)
              .set('Cookie', pair)
              .expect(200);
            const big = await http(sized)
              .post(`/big/huge?bytes=${150 * 1024}&${q}`)
              .set('Cookie', pair)
              .expect(500);
            expect(big.body.message).toMatch(/^SESSION_TOO_LARGE: .*maxSize/);
            expect(setCookies(big)).toEqual([]);
            const state = await http(sized).get('/state').set('Cookie', pair).expect(200);
            expect(Object.keys(state.body.data).sort()).toEqual(['a', 'fits']);
            await http(sized).post('/delete/fits').set('Cookie', pair).expect(200);
            await http(sized).post('/set').set('Cookie', pair).send({ b: 2 }).expect(200);
            const after = await http(sized).get('/state').set('Cookie', pair).expect(200);
            expect(after.body.data).toEqual({ a: 1, b: 2 });
            // A new session past the limit: 500, no cookie, nothing stored.
            const fresh = await http(sized)
              .post(`/big/huge?bytes=${600 * 1024}&${q}`)
              .expect(500);
            expect(fresh.body.message).toMatch(/^SESSION_TOO_LARGE/);
            expect(setCookies(fresh)).toEqual([]);
            expect(logger.errors().filter((m) => /unavailable|cannot be reached/.test(m))).toEqual([]);
          },
        );

        it('a regenerate() past maxSize: 500, and the client keeps its session under its cookie', async () => {
          const first = await http(sized)
            .post(`/big/fits?bytes=${400 * 1024}`)
            .expect(200);
          const pair = cookiePair(first, cookieName)!;
          const res = await http(sized)
            .post(`/regenerate-big?bytes=${150 * 1024}`)
            .set('Cookie', pair)
            .expect(500);
          expect(res.body.message).toMatch(/^SESSION_TOO_LARGE/);
          expect(setCookies(res)).toEqual([]);
          const state = await http(sized).get('/state').set('Cookie', pair).expect(200);
          expect(state.body.isNew).toBe(false);
          expect(Object.keys(state.body.data)).toEqual(['fits']);
          const again = await http(sized).post('/regenerate').set('Cookie', pair).expect(200);
          const next = await http(sized).get('/state').set('Cookie', cookiePair(again, cookieName)!);
          expect(Object.keys(next.body.data)).toEqual(['fits']);
        });
      });

      describe('concurrency', () => {
        it('keeps all 100 keys when 100 overlapping requests each set a different key', async () => {
          const first = await http(app).post('/set').send({ warm: true }).expect(200);
          const pair = cookiePair(first, cookieName)!;
          barrier.reset(100);
          await Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              http(app).post(`/concurrent/k${i}`).set('Cookie', pair).expect(200),
            ),
          );
          const state = await http(app).get('/state').set('Cookie', pair).expect(200);
          expect(Object.keys(state.body.data)).toHaveLength(101);
        });
      });
    }
  });
}
