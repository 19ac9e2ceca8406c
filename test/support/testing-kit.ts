import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  Query,
  Redirect,
  type DynamicModule,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Session,
  SessionManager,
  SessionModule,
  SessionRegistry,
  type SessionModuleOptions,
} from 'nest-session';
import { SessionTesting, type TestClock } from 'nest-session/testing';
import { isPrunable, type PrunableSessionStore } from '../../lib/stores/session-store.js';
import { createApp, http, platforms, setCookies, type Platform } from './app.js';
import type { TestDriver } from './drivers.js';

// The testing kit on one driver, through the app's real HTTP on Express and Fastify: what it mints
// is what the app reads, what it reads is what the app left. Every app runs on the kit's clock,
// started a year before the real time on Express and a year after it on Fastify: a part of the
// library that read the real time instead would see every session expired, or none.

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
export const IDLE = 2 * HOUR;
export const LIFETIME = 6 * HOUR;

/** A service that injects Session, for runInSession(). */
@Injectable()
export class CartService {
  constructor(private readonly session: Session) {}

  add(item: string): string[] {
    const cart = [...(this.session.get('cart', []) as string[]), item];
    this.session.set('cart', cart);
    this.session.flash('added', item);
    return cart;
  }

  lastAdded(): unknown {
    return this.session.getFlash('added');
  }

  signOut(): void {
    this.session.signOut();
  }
}

@Controller('kit')
class KitController {
  constructor(
    private readonly session: Session,
    private readonly sessions: SessionManager,
    private readonly registry: SessionRegistry,
  ) {}

  @Get('me')
  me() {
    return {
      userId: this.session.userId ?? null,
      policy: this.session.policy ?? null,
      handle: this.session.isNew ? null : this.session.handle,
      data: this.session.all(),
      flash: this.session.flashes(),
    };
  }

  @Get('other/:driver')
  other(@Param('driver') driver: string) {
    const session = this.sessions.driver(driver);
    return { userId: session.userId ?? null, data: session.all() };
  }

  @Post('set')
  @HttpCode(200)
  set(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.set(key, value);
    return { ok: true };
  }

  /** Post/Redirect/Get: a flash survives the redirect, for the page it leads to. */
  @Post('flash')
  @Redirect('/kit/me', 303)
  flash(@Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) this.session.flash(key, value);
    return { ok: true };
  }

  @Post('sign-in/:id')
  @HttpCode(200)
  signIn(@Param('id') id: string, @Query('policy') policy?: string) {
    this.session.signIn(id, { policy });
    return { ok: true };
  }

  @Post('sign-out')
  @HttpCode(200)
  signOut() {
    this.session.signOut();
    return { ok: true };
  }

  @Get('devices')
  devices() {
    return this.registry.list(this.session.userId ?? 'nobody');
  }
}

/** The kit's test app: the driver's options, the policies, the kit's clock. */
export function kitModule(options: SessionModuleOptions, clock: TestClock): DynamicModule {
  @Module({
    imports: [
      SessionModule.forRoot({
        ...options,
        idleTimeout: IDLE,
        lifetime: LIFETIME,
        policies: { remember: { idleTimeout: 30 * DAY, lifetime: 90 * DAY } },
        clock,
      }),
    ],
    controllers: [KitController],
    providers: [CartService],
  })
  class KitModule {}
  return { module: KitModule };
}

/** Another driver for `mint({ driver })`: the cookie driver, or memory when the default is cookie. */
const otherDriver = (driver: TestDriver) => (driver.name === 'cookie' ? 'memory' : 'cookie');

export function testingKitSuite(driver: TestDriver, only: Platform[] = platforms): void {
  describe.each(only)(`the testing kit on the ${driver.label} driver, on %s`, (platform) => {
    let app: INestApplication;
    let url: string;
    let clock: TestClock;
    let sessions: SessionTesting;
    /**
     * Whether the driver's store keeps a session's binding, the user it is signed in as and the policy
     * it follows (a sign-in over HTTP, read back): a minted session is bound as a sign-in binds it,
     * no more, so where a store keeps neither yet, the app sees neither in a minted session either.
     */
    let keepsUsers: boolean;
    const signedIn = (userId: string) => (keepsUsers ? userId : null);

    beforeAll(async () => {
      clock = SessionTesting.clock(Date.now() + (platform === 'express' ? -YEAR : YEAR));
      const { module } = kitModule(driver.options(), clock);
      app = await createApp(platform, module);
      await app.listen(0, '127.0.0.1');
      url = await app.getUrl();
      sessions = SessionTesting.for(app);
      const probe = await http(app).post('/kit/sign-in/probe?policy=remember').expect(200);
      const { userId, policy } = (await me(cookieOf(probe)!)).body;
      keepsUsers = userId === 'probe' && policy === 'remember';
    });
    afterAll(() => app.close());

    const me = (cookie: string) => http(app).get('/kit/me').set('Cookie', cookie).expect(200);
    /** A request as a browser makes it: the cookie it holds goes, and one the response sets replaces it. */
    const visit = async (cookie: string) => {
      const res = await me(cookie);
      return { res, cookie: cookieOf(res) ?? cookie };
    };

    it('mints a signed-in session with data and flash that the app reads as its own', async () => {
      const cookie = await sessions.mint({ userId: 'u1', data: { theme: 'dark' }, flash: { success: 'Hi' } });
      expect(cookie).toMatch(/^nest_session=[\w.-]+$/);
      const first = await visit(cookie);
      expect(first.res.body).toMatchObject({
        userId: signedIn('u1'),
        data: { theme: 'dark' },
        flash: { success: 'Hi' },
      });
      // The flash was for that request only.
      expect((await me(first.cookie)).body).toMatchObject({ data: { theme: 'dark' }, flash: {} });
    });

    it('binds the session to the user as signIn() does: the registry lists it with its device', async () => {
      const cookie = await sessions.mint({
        userId: 'u-devices',
        device: { label: 'Work laptop', userAgent: 'Kit/1.0', ip: '203.0.113.9' },
      });
      const minted = await sessions.read(cookie);
      expect(minted).toMatchObject({ userId: signedIn('u-devices') ?? undefined, policy: undefined });
      expect((await me(cookie)).body).toMatchObject({
        userId: signedIn('u-devices'),
        handle: minted!.handle,
      });
      const manager = app.get(SessionManager);
      if (manager.lifecycle.driver(manager.options.driver).users !== undefined) {
        const devices = await http(app).get('/kit/devices').set('Cookie', cookie).expect(200);
        expect(devices.body).toEqual([
          expect.objectContaining({
            handle: minted!.handle,
            current: true,
            label: 'Work laptop',
            userAgent: 'Kit/1.0',
            ip: '203.0.113.0',
            driver: manager.options.driver,
          }),
        ]);
      } else {
        // The store keeps no user index: the registry says so, as it does for a sign-in over HTTP.
        await http(app)
          .get('/kit/devices')
          .set('Cookie', cookie)
          .expect(500, /SESSION_USERS_UNSUPPORTED/);
      }
    });

    it('mints a session for another named driver, in that driver cookie', async () => {
      const other = otherDriver(driver);
      const cookie = await sessions.mint({ driver: other, userId: 'u2', data: { cart: ['apple'] } });
      expect(cookie.startsWith(`nest_session_${other}=`)).toBe(true);
      const res = await http(app).get(`/kit/other/${other}`).set('Cookie', cookie).expect(200);
      expect(res.body).toEqual({ userId: 'u2', data: { cart: ['apple'] } });
      expect(await sessions.read(cookie, { driver: other })).toMatchObject({ userId: 'u2' });
      expect(await sessions.read(cookie)).toBeUndefined();
    });

    it('reads back what a response left, from supertest, a Set-Cookie and a fetch Response', async () => {
      const res = await http(app).post('/kit/set').send({ theme: 'light' }).expect(200);
      const read = await sessions.read(res);
      expect(read).toMatchObject({ userId: undefined, data: { theme: 'light' }, flash: {} });
      expect(read!.handle).toMatch(/^[\w-]{16}$/);
      expect(read!.expiresAt.getTime()).toBe(clock.now() + IDLE);
      const setCookie = setCookies(res).find((c) => c.startsWith('nest_session='))!;
      expect(await sessions.read(setCookie)).toEqual(read);
      // A change to a stored session sets no cookie: the one its request sent still brings it.
      const cookie = cookieOf(res)!;
      const changed = await http(app).post('/kit/set').set('Cookie', cookie).send({ theme: 'sepia' });
      expect(await sessions.read(changed)).toMatchObject({ data: { theme: 'sepia' } });
      const now = cookieOf(changed) ?? cookie; // the cookie driver reseals its cookie
      // fetch: a flash survives the redirect (3xx) that follows it.
      const fetched = await fetch(`${url}/kit/flash`, {
        method: 'POST',
        headers: { cookie: now, 'content-type': 'application/json' },
        body: JSON.stringify({ notice: 'Saved' }),
        redirect: 'manual',
      });
      expect(fetched.status).toBe(303);
      // A fetch Response knows nothing of its request: without a Set-Cookie, read the cookie sent.
      const after = await sessions.read(fetched.headers.getSetCookie().length > 0 ? fetched : now);
      expect(after).toMatchObject({ data: { theme: 'sepia' }, flash: { notice: 'Saved' } });
    });

    it('asserts on a response with no test runner of its own, saying what was there', async () => {
      const cookie = await sessions.mint({ userId: 'u4', data: { theme: 'dark' } });
      const res = await http(app)
        .post('/kit/flash')
        .set('Cookie', cookie)
        .send({ success: 'Saved' })
        .expect(303);
      await sessions.expect(res).toHaveSession({ theme: 'dark' });
      await sessions.expect(res).toHaveFlash('success');
      await sessions.expect(res).toHaveFlash('success', 'Saved');
      if (keepsUsers) {
        await sessions.expect(res).toBeSignedInAs('u4');
        await expect(sessions.expect(res).toBeSignedInAs('u5')).rejects.toMatchObject({
          name: 'AssertionError',
          expected: 'u5',
          actual: 'u4',
          message: "expected a session signed in as 'u5', but it is signed in as 'u4'",
        });
      } else {
        await expect(sessions.expect(res).toBeSignedInAs('u4')).rejects.toMatchObject({
          expected: 'u4',
          actual: undefined,
          message: "expected a session signed in as 'u4', but it is not signed in (data: { theme: 'dark' })",
        });
      }
      await expect(sessions.expect(res).toHaveSession({ theme: 'light' })).rejects.toMatchObject({
        name: 'AssertionError',
        expected: { theme: 'light' },
        actual: { theme: 'dark' },
        message:
          "expected the session's data to include { theme: 'light' }, but its data is { theme: 'dark' }",
      });
      await expect(sessions.expect(res).toHaveFlash('success', 'Welcome')).rejects.toMatchObject({
        expected: { success: 'Welcome' },
        actual: { success: 'Saved' },
        message: "expected flash { success: 'Welcome' }, but its flash is { success: 'Saved' }",
      });
      await expect(sessions.expect(res).toBeDestroyed()).rejects.toThrow(
        `expected the session to be destroyed, but it is still there: ${keepsUsers ? "signed in as 'u4'" : 'not signed in'}, data { theme: 'dark' }`,
      );
      await expect(sessions.expect('nest_session=forged').toHaveSession({})).rejects.toThrow(
        "expected the session's data to include {}, but the nest_session cookie loads no session",
      );
    });

    it('sees a signed-out session destroyed: the cookie cleared, and on a store its id dead', async () => {
      const cookie = await sessions.mint({ userId: 'u6' });
      const res = await http(app).post('/kit/sign-out').set('Cookie', cookie).expect(200);
      await sessions.expect(res).toBeDestroyed();
      expect(await sessions.read(res)).toBeUndefined();
      if (driver.serverSide) {
        expect(await sessions.read(cookie)).toBeUndefined();
        await sessions.expect(cookie).toBeDestroyed();
      }
      await expect(sessions.expect(await http(app).get('/kit/me')).toBeDestroyed()).rejects.toThrow(
        'no nest_session cookie was sent or cleared',
      );
    });

    it('ends a session after its idle timeout on the clock, with no timer faked', async () => {
      let seen = { cookie: await sessions.mint({ userId: 'u7', data: { who: 'u7' } }) };
      for (let i = 0; i < 2; i++) {
        clock.advance(IDLE - 1000); // each request touches it: idle again for less than the timeout
        const next = await visit(seen.cookie);
        expect(next.res.body.data).toEqual({ who: 'u7' });
        seen = next;
      }
      clock.advance(IDLE + 1);
      expect(await sessions.read(seen.cookie)).toBeUndefined();
      expect((await me(seen.cookie)).body).toMatchObject({ userId: null, data: {} });
    });

    it('ends a session at its lifetime however active, and follows a remember-me policy', async () => {
      let cookie = await sessions.mint({ userId: 'u8', data: { who: 'u8' } });
      const remembered = await sessions.mint({ userId: 'u9', policy: 'remember', data: { who: 'u9' } });
      for (let spent = HOUR; spent < LIFETIME; spent += HOUR) {
        clock.advance(HOUR);
        const seen = await visit(cookie);
        expect(seen.res.body.data).toEqual({ who: 'u8' });
        cookie = seen.cookie;
      }
      clock.advance(HOUR + 1);
      expect((await me(cookie)).body.data).toEqual({});
      // Idle for longer than the default policy allows, within the remember policy's 30 days.
      clock.advance(3 * DAY);
      const res = await me(remembered);
      if (!keepsUsers) {
        expect(res.body).toMatchObject({ policy: null, data: {} });
        return;
      }
      expect(res.body).toMatchObject({ policy: 'remember', data: { who: 'u9' } });
      const read = await sessions.read(res);
      expect(read).toMatchObject({ policy: 'remember', data: { who: 'u9' } });
      expect(read!.expiresAt.getTime()).toBe(clock.now() + 30 * DAY);
    });

    it('prunes on the clock: a session past its idle timeout goes at the next prune', async () => {
      const cookie = await sessions.mint({ userId: 'u10', data: { who: 'u10' } });
      const manager = app.get(SessionManager);
      clock.advance(IDLE + 1);
      if (!driver.serverSide) {
        expect(() => manager.store()).toThrow('SESSION_NO_STORE');
      } else if (isPrunable(manager.store())) {
        expect(await (manager.store() as PrunableSessionStore).prune()).toBeGreaterThanOrEqual(1);
      } else {
        // Redis drops keys itself, on its own time: the driver still refuses the expired record.
        expect(manager.options.driver).toBe('redis');
      }
      expect(await sessions.read(cookie)).toBeUndefined();
    });

    it('runs a service that injects Session without HTTP, committing what it changed', async () => {
      const first = await SessionTesting.runInSession(app, { userId: 'u11', data: { cart: [] } }, () =>
        app.get(CartService).add('apple'),
      );
      expect(first.result).toEqual(['apple']);
      expect(await sessions.read(first.cookie!)).toMatchObject({
        userId: signedIn('u11') ?? undefined,
        data: { cart: ['apple'] },
        flash: { added: 'apple' },
      });
      const second = await SessionTesting.runInSession(app, { cookie: first.cookie }, (session) => ({
        added: app.get(CartService).lastAdded(),
        cart: session.get('cart'),
      }));
      expect(second.result).toEqual({ added: 'apple', cart: ['apple'] });
      // The flash it read is consumed; the session goes on over HTTP with the cookie.
      expect((await me(second.cookie!)).body).toMatchObject({ data: { cart: ['apple'] }, flash: {} });
      const out = await SessionTesting.runInSession(app, { cookie: second.cookie }, () =>
        app.get(CartService).signOut(),
      );
      expect(out.cookie).toBeUndefined();
      if (driver.serverSide) expect((await me(second.cookie!)).body.data).toEqual({});
    });
  });
}

/** The session cookie a response set, as a Cookie header value. */
function cookieOf(res: { headers: Record<string, unknown> }): string | undefined {
  return setCookies(res)
    .find((c) => c.startsWith('nest_session='))
    ?.split(';')[0];
}

/** A testing module without HTTP: runInSession() on a service, as a job or a unit test would. */
export async function kitTestingModule(options: SessionModuleOptions, clock: TestClock) {
  return Test.createTestingModule({ imports: [kitModule(options, clock).module] }).compile();
}
