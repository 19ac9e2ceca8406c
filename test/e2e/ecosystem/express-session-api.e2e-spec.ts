import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Module,
  Param,
  Post,
  Req,
  Session as NestSession,
  type INestApplication,
} from '@nestjs/common';
import { inspect } from 'node:util';
import { agent, Barrier, http, platforms } from '../../support/app.js';
import { boot, drivers, sessionCookie, sessionModule, type Driver } from '../../support/ecosystem/boot.js';

type Req = { session: Record<string, any> };
const done = (fn: (cb: (error?: unknown) => void) => void) =>
  new Promise<boolean>((resolve, reject) => {
    let sync = true;
    fn((error) => (error ? reject(error as Error) : resolve(!sync)));
    sync = false;
  });

const overlap = new Barrier(2);
let kept: Record<string, any> | undefined;

@Controller()
class DocsController {
  /** The NestJS docs' example, as written there. */
  @Get()
  findAll(@NestSession() session: Record<string, any>) {
    session.visits = session.visits ? session.visits + 1 : 1;
    return session.visits;
  }
}

@Controller('s')
class ExpressSessionController {
  @Post('set')
  @HttpCode(200)
  set(@Req() req: Req, @Body() body: Record<string, unknown>) {
    for (const [key, value] of Object.entries(body)) req.session[key] = value;
    return { id: req.session.id };
  }

  @Get('data')
  data(@Req() req: Req) {
    return { ...req.session };
  }

  @Post('cart/:item')
  @HttpCode(200)
  cart(@Req() req: Req, @Param('item') item: string) {
    req.session.cart ??= { items: [] };
    req.session.cart.items.push(item);
    req.session.cart.count = req.session.cart.items.length;
    return req.session.cart;
  }

  @Post('delete/:key')
  @HttpCode(200)
  remove(@Req() req: Req, @Param('key') key: string) {
    delete req.session[key];
    return { has: key in req.session };
  }

  @Post('undefined/:key')
  @HttpCode(200)
  unset(@NestSession() session: Record<string, any>, @Param('key') key: string) {
    session.set(key, undefined);
    return { has: session.has(key) };
  }

  @Get('shape')
  shape(@Req() req: Req) {
    const { cookie } = req.session;
    return {
      id: req.session.id,
      sessionID: (req as Req & { sessionID?: string }).sessionID === req.session.id,
      idIsString: typeof req.session.id === 'string' && req.session.id.length > 0,
      cookie: {
        path: cookie.path,
        httpOnly: cookie.httpOnly,
        maxAge: cookie.maxAge > 0,
        expires: cookie.expires instanceof Date && cookie.expires.getTime() > Date.now(),
        originalMaxAge: cookie.originalMaxAge > 0,
      },
      touch: req.session.touch() === req.session,
      // What console.log(req.session) prints: the data.
      inspect: inspect(req.session),
      nest: typeof req.session.get === 'function' && typeof req.session.pushFlash === 'function',
    };
  }

  @Post('regenerate')
  @HttpCode(200)
  async regenerate(@Req() req: Req) {
    const before = req.session.id;
    const old = req.session;
    const async = await done((cb) => req.session.regenerate(cb));
    req.session.after = 'regenerate';
    // As with express-session, a reference kept from before reads what the session had (passport's
    // keepSessionInfo merges it back); what is written through it is kept too.
    old.viaOld = true;
    return {
      before,
      after: req.session.id,
      async,
      keys: Object.keys(req.session),
      old: { userId: old.userId, keys: Object.keys(old) },
    };
  }

  @Post('destroy')
  @HttpCode(200)
  async destroy(@Req() req: Req) {
    return { async: await done((cb) => req.session.destroy(cb)) };
  }

  @Post('save-reload')
  @HttpCode(200)
  async saveReload(@Req() req: Req) {
    req.session.saved = true;
    const save = await done((cb) => req.session.save(cb));
    const reload = await done((cb) => req.session.reload(cb));
    return { save, reload, saved: req.session.saved };
  }

  /** cookie-session's sign-out idiom. */
  @Post('null-out')
  @HttpCode(200)
  nullOut(@Req() req: Req) {
    (req as { session: unknown }).session = null;
    return 'ok';
  }

  /** Nest-session's own API on the same object. */
  @Post('nest/:key')
  @HttpCode(200)
  nest(@Req() req: Req, @Param('key') key: string, @Body() body: { value: unknown }) {
    req.session.set(key, body.value);
    return { get: req.session.get(key), property: req.session[key], all: req.session.all() };
  }

  /** Holds the request between load and commit until another one gets here too. */
  @Post('held/:key')
  @HttpCode(200)
  async held(@Req() req: Req, @Param('key') key: string) {
    req.session.prefs ??= {};
    req.session.prefs[key] = true;
    req.session[key] = true;
    await overlap.arrive();
    return 'ok';
  }

  @Get('keep')
  keep(@Req() req: Req) {
    kept = req.session.cart;
    return { same: kept === req.session.cart };
  }
}

@Module({ controllers: [DocsController, ExpressSessionController] })
class Routes {}

const appModule = (driver: Driver) => {
  @Module({ imports: [sessionModule(driver), Routes] })
  class AppModule {}
  return AppModule;
};

const cases = platforms.flatMap((platform) => drivers.map((driver) => [platform, driver] as const));

describe.each(cases)('req.session speaks express-session (%s, %s driver)', (platform, driver) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await boot(platform, appModule(driver));
  });
  afterAll(() => app.close());

  it("the NestJS docs' visits example counts 1, 2, 3, in main.ts's app and a testing module's", async () => {
    const testing = await boot(platform, appModule(driver), { way: 'testing module' });
    try {
      for (const target of [app, testing]) {
        const a = agent(target);
        await a.get('/').expect(200, '1');
        await a.get('/').expect(200, '2');
        await a.get('/').expect(200, '3');
        await http(target).get('/').expect(200, '1');
      }
    } finally {
      await testing.close();
    }
  });

  it('keeps properties set, nested changes and deletes', async () => {
    const a = agent(app);
    await a.post('/s/set').send({ userId: 7, name: 'ada', role: 'admin' }).expect(200);
    await a.post('/s/cart/apple').expect(200, { items: ['apple'], count: 1 });
    await a.post('/s/cart/pear').expect(200, { items: ['apple', 'pear'], count: 2 });
    await a.post('/s/delete/role').expect(200, { has: false });
    await a.post('/s/undefined/name').expect(200, { has: false });
    await a.get('/s/data').expect(200, { userId: 7, cart: { items: ['apple', 'pear'], count: 2 } });
  });

  it('has id (req.sessionID too), cookie, touch() and nest-session methods on the same object', async () => {
    const a = agent(app);
    const res = await a.post('/s/nest/theme').send({ value: 'dark' }).expect(200);
    expect(res.body).toEqual({ get: 'dark', property: 'dark', all: { theme: 'dark' } });
    const shape = await a.get('/s/shape').expect(200);
    expect(shape.body).toEqual({
      id: shape.body.id,
      sessionID: true,
      idIsString: true,
      cookie: { path: '/', httpOnly: true, maxAge: true, expires: true, originalMaxAge: true },
      touch: true,
      inspect: "{ theme: 'dark' }",
      nest: true,
    });
  });

  it('regenerate(cb): a new id, an empty session, the callback called later', async () => {
    const a = agent(app);
    const first = await a.post('/s/set').send({ userId: 1 }).expect(200);
    const old = sessionCookie(first)!;
    const res = await a.post('/s/regenerate').expect(200);
    expect(res.body.async).toBe(true);
    expect(res.body.after).not.toBe(res.body.before);
    expect(res.body.keys).toEqual(['after', 'viaOld']);
    expect(res.body.old).toEqual({ userId: 1, keys: ['userId', 'viaOld'] });
    expect(sessionCookie(res)).not.toBe(old);
    await a.get('/s/data').expect(200, { after: 'regenerate', viaOld: true });
    if (driver !== 'cookie') {
      // The old id is gone: its cookie starts an empty session.
      await http(app).get('/s/data').set('Cookie', `nest_session=${old}`).expect(200, {});
    }
  });

  it("req.session = null (cookie-session's sign-out) ends the session", async () => {
    const a = agent(app);
    await a.post('/s/set').send({ userId: 7 }).expect(200);
    await a.get('/s/data').expect(200, { userId: 7 });
    await a.post('/s/null-out').expect(200);
    await a.get('/s/data').expect(200, {});
  });

  it('destroy(cb), save(cb) and reload(cb) call back, later', async () => {
    const a = agent(app);
    await a.post('/s/save-reload').expect(200, { save: true, reload: true, saved: true });
    await a.get('/s/data').expect(200, { saved: true });
    await a.post('/s/destroy').expect(200, { async: true });
    await a.get('/s/data').expect(200, {});
  });

  it('nothing reachable from req.session outlives its request', async () => {
    const a = agent(app);
    await a.post('/s/cart/apple').expect(200);
    await a.get('/s/keep').expect(200, { same: true });
    // Changing what a past request read changes nothing kept.
    kept!.items.push('stolen');
    kept!.count = 99;
    await a.get('/s/data').expect(200, { cart: { items: ['apple'], count: 1 } });
  });

  if (driver !== 'cookie') {
    it('overlapping requests changing different keys (and one nested object) all survive', async () => {
      const a = agent(app);
      await a
        .post('/s/set')
        .send({ prefs: { base: true } })
        .expect(200);
      overlap.reset(2);
      await Promise.all([a.post('/s/held/left').expect(200), a.post('/s/held/right').expect(200)]);
      const { body } = await a.get('/s/data').expect(200);
      expect(body.left).toBe(true);
      expect(body.right).toBe(true);
      // A nested object counts as its top-level key: one request's whole value wins.
      expect(body.prefs.base).toBe(true);
      expect(Object.keys(body.prefs).filter((k) => k !== 'base')).toHaveLength(1);
    });
  }
});
