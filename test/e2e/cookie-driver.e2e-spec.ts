import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  Body,
  Catch,
  ConflictException,
  Controller,
  HttpCode,
  Module,
  Param,
  Post,
  UseFilters,
  type ArgumentsHost,
  type DynamicModule,
  type ExceptionFilter,
  type INestApplication,
} from '@nestjs/common';
import { Session, SessionManager, type SessionModuleOptions } from 'nest-session';
import { Keyring } from '../../lib/crypto/keyring.js';
import { cookiePair, createApp, http, platforms, setCookies } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { SECRET, sessionApp } from '../support/session-app.js';
import { ONLY_DATE } from '../support/fixtures.js';

const NAME = 'nest_session';
const SECONDARY = 'nest_session_cookie';
const IDLE = 10 * 60_000;
const LIFETIME = 60 * 60_000;
/** A whole second, so the cookie's Expires (second precision) can be compared exactly. */
const T0 = Date.UTC(2031, 0, 1);
const OLD_SECRET = 'an-old-secret-that-is-long-enough-0123456789';
const NEW_SECRET = 'a-new-secret-that-is-long-enough-9876543210';

/** Holds a handler between loading its session and changing it, until the test releases it. */
class Gate {
  entered!: Promise<void>;
  private arrive!: () => void;
  private opened!: Promise<void>;
  private open!: () => void;
  constructor() {
    this.reset();
  }
  reset() {
    this.entered = new Promise((resolve) => (this.arrive = resolve));
    this.opened = new Promise((resolve) => (this.open = resolve));
  }
  wait(): Promise<void> {
    this.arrive();
    return this.opened;
  }
  release() {
    this.open();
  }
}
const gate = new Gate();

/** Changes the session after the handler, in an exception filter. */
@Catch(ConflictException)
class GrowInFilter implements ExceptionFilter {
  catch(_e: ConflictException, host: ArgumentsHost) {
    host.switchToHttp().getRequest<{ session: Session }>().session.set('big', 'x'.repeat(6000));
    const res = host.switchToHttp().getResponse();
    if (typeof res.json === 'function') res.status(200).json({ filtered: true });
    else res.status(200).send({ filtered: true });
  }
}

@Controller('extra')
class ExtraController {
  constructor(
    private readonly session: Session,
    private readonly sessions: SessionManager,
  ) {}

  @Post('grow-in-filter')
  @UseFilters(GrowInFilter)
  growInFilter() {
    this.session.set('small', 1);
    throw new ConflictException();
  }

  @Post('destroy-then-grow')
  @HttpCode(200)
  destroyThenGrow() {
    this.session.destroy();
    this.session.set('big', 'x'.repeat(6000));
    return { ok: true };
  }

  @Post('both')
  @HttpCode(200)
  both(@Body() body: { memory: unknown; cookie: unknown }) {
    this.session.set('m', body.memory);
    this.sessions.driver('cookie').set('c', body.cookie);
    return { ok: true };
  }

  @Post('slow/:key')
  @HttpCode(200)
  async slow(@Param('key') key: string) {
    this.session.has('warm');
    await gate.wait();
    this.session.set(key, true);
    return this.session.all();
  }
}

@Module({})
class ExtraModule {}
const extra: DynamicModule = { module: ExtraModule, controllers: [ExtraController] };

const cookieOptions: SessionModuleOptions = {
  driver: 'cookie',
  secret: SECRET,
  idleTimeout: IDLE,
  lifetime: LIFETIME,
};

function valueOf(pair: string): string {
  return pair.slice(pair.indexOf('=') + 1);
}

function sessionCookie(res: { headers: Record<string, unknown> }, name = NAME): string | undefined {
  return setCookies(res).find((c) => c.startsWith(`${name}=`));
}

function expiresOf(cookie: string): number {
  return Date.parse(/; Expires=([^;]+)/.exec(cookie)![1]);
}

const logger = new RecordingLogger();

describe.each(platforms)('cookie driver on %s', (platform) => {
  const apps: INestApplication[] = [];
  const start = async (options: SessionModuleOptions) => {
    const app = await createApp(platform, sessionApp(options, [extra]), logger);
    apps.push(app);
    return app;
  };
  let app: INestApplication;
  beforeAll(async () => {
    app = await start(cookieOptions);
  });
  afterAll(() => Promise.all(apps.splice(0).map((a) => a.close())));
  beforeEach(() => {
    logger.entries.length = 0;
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  describe('sealing', () => {
    it('seals the whole session: no key, value or id readable in the cookie', async () => {
      const res = await http(app).post('/set').send({ favouriteColour: 'ultramarine-42' }).expect(200);
      const value = valueOf(cookiePair(res, NAME)!);
      const state = await http(app).get('/state').set('Cookie', `${NAME}=${value}`).expect(200);
      const id: string = state.body.id;
      expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const decoded = Buffer.from(value, 'base64url').toString('latin1');
      for (const secret of ['favouriteColour', 'ultramarine-42', id]) {
        expect(value).not.toContain(secret);
        expect(decoded).not.toContain(secret);
      }
      const opened = new Keyring([SECRET]).open(NAME, value);
      expect(opened?.stale).toBe(false);
      expect(opened?.plaintext).toContain(id);
      expect(opened?.plaintext).toContain('ultramarine-42');
    });

    it('gives every session its own random id, kept inside the seal', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const res = await http(app).post('/set').send({ i }).expect(200);
        const state = await http(app).get('/state').set('Cookie', cookiePair(res, NAME)!).expect(200);
        ids.add(state.body.id);
      }
      expect(ids.size).toBe(5);
    });
  });

  describe('secret rotation', () => {
    let oldApp: INestApplication;
    let rotated: INestApplication;
    let newOnly: INestApplication;
    beforeAll(async () => {
      oldApp = await start({ ...cookieOptions, secret: OLD_SECRET });
      rotated = await start({ ...cookieOptions, secret: [NEW_SECRET, OLD_SECRET] });
      newOnly = await start({ ...cookieOptions, secret: NEW_SECRET });
    });

    it('opens a cookie sealed with the old secret and reseals it with the new one on that response', async () => {
      const first = await http(oldApp).post('/set').send({ a: 1 }).expect(200);
      const oldPair = cookiePair(first, NAME)!;
      const res = await http(rotated).get('/state').set('Cookie', oldPair).expect(200);
      expect(res.body).toMatchObject({ isNew: false, data: { a: 1 } });
      const newPair = cookiePair(res, NAME);
      expect(newPair).toBeDefined();
      expect(new Keyring([NEW_SECRET]).open(NAME, valueOf(newPair!))?.stale).toBe(false);
      const next = await http(newOnly).get('/state').set('Cookie', newPair!).expect(200);
      expect(next.body).toMatchObject({ id: res.body.id, isNew: false, data: { a: 1 } });
    });

    it('does not rewrite a cookie already sealed with the new secret', async () => {
      const first = await http(rotated).post('/set').send({ a: 1 }).expect(200);
      const res = await http(rotated).get('/state').set('Cookie', cookiePair(first, NAME)!).expect(200);
      expect(res.body).toMatchObject({ isNew: false, data: { a: 1 } });
      expect(sessionCookie(res)).toBeUndefined();
    });

    it('starts a fresh session when the old secret is no longer configured', async () => {
      const first = await http(oldApp).post('/set').send({ a: 1 }).expect(200);
      const res = await http(newOnly).get('/state').set('Cookie', cookiePair(first, NAME)!).expect(200);
      expect(res.body).toMatchObject({ isNew: true, data: {} });
      expect(logger.errors()).toEqual([]);
    });
  });

  describe('expiry, on the server', () => {
    it('treats a cookie replayed after idleTimeout as a fresh session, whatever the browser kept', async () => {
      jest.useFakeTimers({ now: T0, doNotFake: [...ONLY_DATE] });
      const res = await http(app).post('/set').send({ a: 1 }).expect(200);
      const pair = cookiePair(res, NAME)!;
      jest.setSystemTime(T0 + IDLE - 1000);
      await http(app).get('/get/a').set('Cookie', pair).expect(200, { value: 1, has: true });
      jest.setSystemTime(T0 + IDLE + 1000);
      const replay = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(replay.body).toMatchObject({ isNew: true, data: {} });
    });

    it('treats a cookie replayed after lifetime as a fresh session, even right after activity', async () => {
      jest.useFakeTimers({ now: T0, doNotFake: [...ONLY_DATE] });
      let pair = cookiePair(await http(app).post('/set').send({ a: 1 }).expect(200), NAME)!;
      for (let t = IDLE / 2; t < LIFETIME; t += IDLE / 2) {
        jest.setSystemTime(T0 + t);
        const res = await http(app).post('/set').set('Cookie', pair).send({ t }).expect(200);
        expect(res.body.a).toBe(1);
        pair = cookiePair(res, NAME)!;
      }
      jest.setSystemTime(T0 + LIFETIME + 1000);
      const replay = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(replay.body).toMatchObject({ isNew: true, data: {} });
    });

    it('sets Expires to the end of the idle timeout, and never past the lifetime', async () => {
      jest.useFakeTimers({ now: T0, doNotFake: [...ONLY_DATE] });
      let res = await http(app).post('/set').send({ a: 1 }).expect(200);
      expect(expiresOf(sessionCookie(res)!)).toBe(T0 + IDLE);
      for (let t = IDLE / 2; t < LIFETIME; t += IDLE / 2) {
        jest.setSystemTime(T0 + t);
        res = await http(app).post('/set').set('Cookie', cookiePair(res, NAME)!).send({ t }).expect(200);
        expect(expiresOf(sessionCookie(res)!)).toBe(Math.min(T0 + t + IDLE, T0 + LIFETIME));
      }
      expect(expiresOf(sessionCookie(res)!)).toBe(T0 + LIFETIME);
    });
  });

  describe('writing only what changed', () => {
    it('sends no cookie when the session was not changed', async () => {
      jest.useFakeTimers({ now: T0, doNotFake: [...ONLY_DATE] });
      const pair = cookiePair(await http(app).post('/set').send({ a: 1 }).expect(200), NAME)!;
      jest.setSystemTime(T0 + IDLE / 100 - 1000);
      for (const path of ['/state', '/get/a', '/untouched', '/read-flash']) {
        const res = await http(app).get(path).set('Cookie', pair).expect(200);
        expect(sessionCookie(res)).toBeUndefined();
      }
    });

    it('re-sends an unchanged session once the idle timeout needs it, which keeps it alive', async () => {
      jest.useFakeTimers({ now: T0, doNotFake: [...ONLY_DATE] });
      const pair = cookiePair(await http(app).post('/set').send({ a: 1 }).expect(200), NAME)!;
      const touchAt = T0 + IDLE / 100;
      jest.setSystemTime(touchAt);
      const touched = await http(app).get('/state').set('Cookie', pair).expect(200);
      const cookie = sessionCookie(touched);
      expect(cookie).toBeDefined();
      expect(expiresOf(cookie!)).toBe(touchAt + IDLE);
      jest.setSystemTime(T0 + IDLE + 1000);
      const later = await http(app).get('/state').set('Cookie', cookiePair(touched, NAME)!).expect(200);
      expect(later.body).toMatchObject({ isNew: false, data: { a: 1 } });
    });
  });

  describe('cookies it did not seal', () => {
    let minted: { wrongKey: string; otherName: string; notASession: string; valid: string };
    beforeAll(async () => {
      const other = await start({ ...cookieOptions, secret: OLD_SECRET });
      const renamed = await start({ ...cookieOptions, cookie: { name: 'other_session' } });
      const wrongKey = valueOf(cookiePair(await http(other).post('/set').send({ a: 1 }), NAME)!);
      const otherName = valueOf(
        cookiePair(await http(renamed).post('/set').send({ a: 1 }), 'other_session')!,
      );
      const valid = valueOf(cookiePair(await http(app).post('/set').send({ a: 1 }), NAME)!);
      const notASession = new Keyring([SECRET]).seal(NAME, JSON.stringify({ data: { a: 1 } }));
      minted = { wrongKey, otherName, notASession, valid };
    });

    it.each([
      ['tampered with', () => flip(minted.valid, Math.floor(minted.valid.length / 2))],
      ['truncated', () => minted.valid.slice(0, -8)],
      ['sealed with another secret', () => minted.wrongKey],
      ['sealed for another cookie name', () => minted.otherName],
      ['sealed with the key that holds no session', () => minted.notASession],
      ['of garbage', () => 'garbage%20!*()'],
      ['of 8 KB', () => minted.valid + 'A'.repeat(8192 - minted.valid.length)],
    ])(
      'treats a cookie %s as a fresh session, with a 200 and nothing logged as an error',
      async (_kind, make) => {
        const value = make();
        const state = await http(app).get('/state').set('Cookie', `${NAME}=${value}`).expect(200);
        expect(state.body).toMatchObject({ isNew: true, data: {} });
        const res = await http(app).post('/set').set('Cookie', `${NAME}=${value}`).send({ b: 2 }).expect(200);
        expect(res.body).toEqual({ b: 2 });
        expect(cookiePair(res, NAME)).not.toBe(`${NAME}=${value}`);
        expect(logger.errors()).toEqual([]);
        // the valid original still opens: the failure above was the alteration, not the setup
        await http(app)
          .get('/get/a')
          .set('Cookie', `${NAME}=${minted.valid}`)
          .expect(200, { value: 1, has: true });
      },
    );
  });

  describe('size', () => {
    it('fails with a clear 500 when the cookie would pass 4096 bytes, and leaves the client cookie as it was', async () => {
      const pair = cookiePair(await http(app).post('/set').send({ keep: 'small' }).expect(200), NAME)!;
      const res = await http(app)
        .post('/set')
        .set('Cookie', pair)
        .send({ big: 'x'.repeat(5000) })
        .expect(500);
      expect(res.body.message).toMatch(/^SESSION_TOO_LARGE: the session cookie would be \d+ bytes/);
      expect(res.body.message).toContain('over the 4096-byte limit');
      expect(res.body.message).toContain('use a server-side driver');
      expect(sessionCookie(res)).toBeUndefined();
      const after = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(after.body.data).toEqual({ keep: 'small' });
      expect(logger.errors()).toHaveLength(1);
    });

    it('counts the name and attributes, not only the value: 4096 bytes pass, 4097 do not', async () => {
      const probe = sessionCookie(
        await http(app)
          .post('/set')
          .send({ pad: 'x'.repeat(999) })
          .expect(200),
      )!;
      const base = Buffer.byteLength(probe);
      const nameAndValue = Buffer.byteLength(probe.split(';')[0]);
      // three more characters of plaintext make exactly four more characters of base64url
      const steps = Math.floor((4096 - base) / 4);
      const fits = await http(app)
        .post('/set')
        .send({ pad: 'x'.repeat(999 + 3 * steps) })
        .expect(200);
      const size = Buffer.byteLength(sessionCookie(fits)!);
      expect(size).toBe(base + 4 * steps);
      expect(size).toBeLessThanOrEqual(4096);
      expect(size).toBeGreaterThan(4092);
      const over = await http(app)
        .post('/set')
        .send({ pad: 'x'.repeat(999 + 3 * (steps + 1)) })
        .expect(500);
      expect(over.body.message).toContain(`would be ${size + 4} bytes`);
      expect(nameAndValue + 4 * (steps + 1)).toBeLessThan(4096);
      expect(sessionCookie(over)).toBeUndefined();
    });

    it('fails with a 500 when a change after the handler (in an exception filter) makes it too large', async () => {
      const pair = cookiePair(await http(app).post('/set').send({ keep: 'small' }).expect(200), NAME)!;
      const res = await http(app).post('/extra/grow-in-filter').set('Cookie', pair).expect(500);
      expect(res.body).toMatchObject({
        statusCode: 500,
        message: expect.stringMatching(/^SESSION_TOO_LARGE/),
      });
      expect(sessionCookie(res)).toBeUndefined();
      const errors = logger.errors();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/SESSION_TOO_LARGE.*not sent/);
      const after = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(after.body.data).toEqual({ keep: 'small' });
    });

    it('keeps nothing of a refused commit: destroy() then too much leaves the old session as it was', async () => {
      const pair = cookiePair(await http(app).post('/set').send({ userId: 1 }).expect(200), NAME)!;
      const res = await http(app).post('/extra/destroy-then-grow').set('Cookie', pair).expect(500);
      expect(res.body.message).toMatch(/^SESSION_TOO_LARGE/);
      expect(sessionCookie(res)).toBeUndefined();
      const after = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(after.body.data).toEqual({ userId: 1 });
    });
  });

  describe('concurrency', () => {
    it('keeps only what the last response sealed: the last response wins', async () => {
      const pair = cookiePair(await http(app).post('/set').send({ warm: true }).expect(200), NAME)!;
      gate.reset();
      const first = http(app)
        .post('/extra/slow/first')
        .set('Cookie', pair)
        .then((r) => r);
      await gate.entered;
      const second = await http(app).post('/set').set('Cookie', pair).send({ second: true }).expect(200);
      gate.release();
      const last = await first;
      expect(last.status).toBe(200);
      expect(second.body).toEqual({ warm: true, second: true });
      expect(last.body).toEqual({ warm: true, first: true });
      const kept = await http(app).get('/state').set('Cookie', cookiePair(last, NAME)!).expect(200);
      expect(kept.body.data).toEqual({ warm: true, first: true });
    });
  });

  describe('next to another driver', () => {
    let mixed: INestApplication;
    beforeAll(async () => {
      mixed = await start({ driver: 'memory', secret: SECRET });
    });

    it('sets both cookies in one request, and the next request sees both sessions', async () => {
      const res = await http(mixed).post('/extra/both').send({ memory: 'm1', cookie: 'c1' }).expect(200);
      const memoryPair = cookiePair(res, NAME)!;
      const cookiePairValue = cookiePair(res, SECONDARY)!;
      expect(memoryPair).toBeDefined();
      expect(cookiePairValue).toBeDefined();
      expect(new Keyring([SECRET]).open(SECONDARY, valueOf(cookiePairValue))?.plaintext).toContain('c1');
      const both = await http(mixed)
        .get('/driver/cookie')
        .set('Cookie', `${memoryPair}; ${cookiePairValue}`)
        .expect(200);
      expect(both.body).toEqual({ data: { c: 'c1' }, defaultData: { m: 'm1' } });
      const cookieOnly = await http(mixed).get('/driver/cookie').set('Cookie', cookiePairValue).expect(200);
      expect(cookieOnly.body).toEqual({ data: { c: 'c1' }, defaultData: {} });
    });

    it('fails with a clear 500 when the cookie driver beside it would pass 4096 bytes', async () => {
      const first = await http(mixed).post('/driver/cookie').send({ keep: 'small' }).expect(200);
      const pair = cookiePair(first, SECONDARY)!;
      const res = await http(mixed)
        .post('/driver/cookie')
        .set('Cookie', pair)
        .send({ big: 'x'.repeat(5000) })
        .expect(500);
      expect(res.body.message).toMatch(/^SESSION_TOO_LARGE/);
      expect(sessionCookie(res, SECONDARY)).toBeUndefined();
      const after = await http(mixed).get('/driver/cookie').set('Cookie', pair).expect(200);
      expect(after.body.data).toEqual({ keep: 'small' });
    });

    it('writes nothing to the default driver either when the cookie driver refuses the commit', async () => {
      const first = await http(mixed).post('/extra/both').send({ memory: 'm1', cookie: 'c1' }).expect(200);
      const cookies = `${cookiePair(first, NAME)!}; ${cookiePair(first, SECONDARY)!}`;
      await http(mixed)
        .post('/extra/both')
        .set('Cookie', cookies)
        .send({ memory: 'm2', cookie: 'x'.repeat(5000) })
        .expect(500);
      const both = await http(mixed).get('/driver/cookie').set('Cookie', cookies).expect(200);
      expect(both.body).toEqual({ data: { c: 'c1' }, defaultData: { m: 'm1' } });
    });
  });
});

function flip(value: string, at: number): string {
  return value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
}
