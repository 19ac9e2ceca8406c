import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, HttpCode, Module, Post, Redirect, type INestApplication } from '@nestjs/common';
import { NoTouch, Session, SessionManager, SessionModule } from 'nest-session';
import { SessionTesting, type TestClock } from 'nest-session/testing';
import { Keyring } from '../../lib/crypto/keyring.js';
import type { MemoryStore } from '../../lib/stores/memory.store.js';
import { agent, cookiePair, createApp, http, platforms, setCookies, type Platform } from '../support/app.js';
import { SECRET } from '../support/session-app.js';

// The memory and cookie drivers load a request's session on first use: a route that never uses it
// reads only the start of the kept record (MemoryStore.peekNow), or opens the cookie once for all the
// requests that bring it, and still extends the session's idle expiry and consumes its flash on a
// 2xx, as a route that loaded it does.

const IDLE = 60 * 60 * 1000; // the touch interval is 1% of it: 36 s
const TOUCH = IDLE / 100;

@Controller()
class LazyController {
  constructor(private readonly session: Session) {}

  @Get('untouched')
  untouched() {
    return 'ok';
  }

  @Get('untouched-redirect')
  @Redirect('/untouched', 302)
  untouchedRedirect() {}

  @Get('untouched-quiet')
  @NoTouch()
  quiet() {
    return 'ok';
  }

  @Post('count')
  @HttpCode(200)
  count() {
    const count = (this.session.get('count', 0) as number) + 1;
    this.session.set('count', count);
    return { count };
  }

  /** Flash, then redirect: the 303 keeps it for the next 2xx. */
  @Post('flash')
  @Redirect('/read', 303)
  flash() {
    this.session.flash('notice', 'saved');
  }

  @Get('read')
  read() {
    return { count: this.session.get('count') ?? null, notice: this.session.getFlash('notice') ?? null };
  }
}

/** Counts the store's whole-record reads and peeks (the real store, its methods wrapped). */
function countReads(store: MemoryStore): { gets: number; peeks: number } {
  const counts = { gets: 0, peeks: 0 };
  const getNow = store.getNow.bind(store);
  const peekNow = store.peekNow.bind(store);
  store.getNow = (id) => (counts.gets++, getNow(id));
  store.peekNow = (id) => (counts.peeks++, peekNow(id));
  return counts;
}

/** The app of these tests on a driver, with the test's clock. */
async function lazyApp(
  platform: Platform,
  driver: 'memory' | 'cookie',
  clock: TestClock,
): Promise<INestApplication> {
  @Module({
    imports: [SessionModule.forRoot({ driver, secret: SECRET, idleTimeout: IDLE, clock })],
    controllers: [LazyController],
  })
  class LazyModule {}
  return createApp(platform, LazyModule);
}

describe.each(platforms)('sessions loaded on first use (memory driver) on %s', (platform) => {
  let app: INestApplication;
  let clock: TestClock;
  let store: MemoryStore;
  let reads: { gets: number; peeks: number };

  beforeAll(async () => {
    clock = SessionTesting.clock();
    app = await lazyApp(platform, 'memory', clock);
    store = app.get(SessionManager).store() as MemoryStore;
    reads = countReads(store);
  });
  afterAll(() => app.close());
  beforeEach(() => {
    reads.gets = reads.peeks = 0;
  });

  const idOf = (cookie: string) => decodeURIComponent(cookie.split('=')[1]).split('.')[0];

  async function started(): Promise<{ a: ReturnType<typeof agent>; id: string }> {
    const a = agent(app);
    const res = await a.post('/count').expect(200, { count: 1 });
    return { a, id: idOf(cookiePair(res, 'nest_session')!) };
  }

  it('reads no record for a route that never uses the session, and writes nothing', async () => {
    const { a, id } = await started();
    const before = store.peekNow(id);
    reads.gets = reads.peeks = 0;
    const res = await a.get('/untouched').expect(200, 'ok');
    expect(setCookies(res)).toEqual([]);
    expect(reads.gets).toBe(0);
    expect(reads.peeks).toBe(1);
    expect(store.peekNow(id)).toEqual(before);
    // A route that uses it reads it, once.
    reads.gets = 0;
    await a.post('/count').expect(200, { count: 2 });
    expect(reads.gets).toBeGreaterThanOrEqual(1);
  });

  it('still extends the idle expiry once the touch interval has passed, and only then', async () => {
    const { a, id } = await started();
    const created = clock.now();
    clock.advance(TOUCH - 1);
    await a.get('/untouched').expect(200);
    expect(store.peekNow(id)).toEqual({ lastActivity: created, hasFlash: false });
    clock.advance(1);
    await a.get('/untouched').expect(200);
    expect(store.peekNow(id)).toEqual({ lastActivity: clock.now(), hasFlash: false });
    // The session lives on past the idle timeout counted from its creation.
    clock.advance(IDLE - 1000);
    await a.get('/read').expect(200, { count: 1, notice: null });
  });

  it('never extends it on a @NoTouch() route', async () => {
    const { a, id } = await started();
    const created = clock.now();
    clock.advance(TOUCH * 2);
    await a.get('/untouched-quiet').expect(200);
    expect(store.peekNow(id)).toEqual({ lastActivity: created, hasFlash: false });
  });

  it('consumes the flash on an untouched 2xx, and keeps it on an untouched 3xx', async () => {
    const { a, id } = await started();
    await a.post('/flash').expect(303);
    expect(store.peekNow(id)).toMatchObject({ hasFlash: true });
    await a.get('/untouched-redirect').expect(302);
    expect(store.peekNow(id)).toMatchObject({ hasFlash: true });
    await a.get('/untouched').expect(200);
    expect(store.peekNow(id)).toMatchObject({ hasFlash: false });
    await a.get('/read').expect(200, { count: 1, notice: null });
  });

  it('a forged cookie or an unknown id on an untouched route: no cookie, nothing stored', async () => {
    const size = store.size;
    const forged = await http(app).get('/untouched').set('Cookie', 'nest_session=forged.abc').expect(200);
    expect(setCookies(forged)).toEqual([]);
    const { a, id } = await started();
    store.destroyNow(id);
    const unknown = await a.get('/untouched').expect(200);
    expect(setCookies(unknown)).toEqual([]);
    expect(store.size).toBe(size);
    await a.get('/read').expect(200, { count: null, notice: null });
  });
});

describe.each(platforms)('sessions loaded on first use (cookie driver) on %s', (platform) => {
  let app: INestApplication;
  let clock: TestClock;
  let opens: number;
  const open = Keyring.prototype.open;

  beforeAll(async () => {
    clock = SessionTesting.clock();
    app = await lazyApp(platform, 'cookie', clock);
    // The real method, counted.
    Keyring.prototype.open = function (this: Keyring, ...args: Parameters<Keyring['open']>) {
      opens++;
      return open.apply(this, args);
    };
  });
  afterAll(async () => {
    Keyring.prototype.open = open;
    await app.close();
  });
  beforeEach(() => {
    opens = 0;
  });

  async function started(): Promise<ReturnType<typeof agent>> {
    const a = agent(app);
    await a.post('/count').expect(200, { count: 1 });
    return a;
  }

  it('opens a cookie no route used once, however many requests bring it, and sends nothing back', async () => {
    const a = await started();
    opens = 0;
    for (let i = 0; i < 3; i++) expect(setCookies(await a.get('/untouched').expect(200, 'ok'))).toEqual([]);
    expect(opens).toBe(1);
    await a.post('/count').expect(200, { count: 2 });
    expect(opens).toBe(2);
  });

  it('opens a cookie once when its unused session is due to be resealed', async () => {
    const a = await started();
    clock.advance(TOUCH);
    opens = 0;
    expect(cookiePair(await a.get('/untouched').expect(200), 'nest_session')).toBeDefined();
    expect(opens).toBe(1);
  });

  it('reseals an unused session once the touch interval has passed, and only then', async () => {
    const a = await started();
    clock.advance(TOUCH - 1);
    expect(setCookies(await a.get('/untouched').expect(200))).toEqual([]);
    clock.advance(1);
    expect(cookiePair(await a.get('/untouched').expect(200), 'nest_session')).toBeDefined();
    expect(setCookies(await a.get('/untouched-quiet').expect(200))).toEqual([]);
    // Extended: alive past the idle timeout counted from its creation.
    clock.advance(IDLE - 1000);
    await a.get('/read').expect(200, { count: 1, notice: null });
  });

  it('consumes the flash on an unused 2xx, and keeps it on an unused 3xx', async () => {
    const a = await started();
    await a.post('/flash').expect(303);
    expect(setCookies(await a.get('/untouched-redirect').expect(302))).toEqual([]);
    expect(cookiePair(await a.get('/untouched').expect(200), 'nest_session')).toBeDefined();
    await a.get('/read').expect(200, { count: 1, notice: null });
  });
});
