import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Module,
  Param,
  Post,
  Redirect,
  Req,
  type INestApplication,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import flash from 'connect-flash';
import { Session } from 'nest-session';
import { agent, http, platforms } from '../../support/app.js';
import { boot, drivers, sessionModule, type Driver } from '../../support/ecosystem/boot.js';

type Flash = (type?: string, ...message: unknown[]) => unknown;
type Req = { flash: Flash };
type Next = () => void;

@Controller()
class FlashController {
  constructor(private readonly session: Session) {}

  @Post('flash/:type')
  @HttpCode(200)
  push(@Req() req: Req, @Param('type') type: string, @Body() body: { message: unknown; args?: unknown[] }) {
    return { count: req.flash(type, body.message, ...(body.args ?? [])) };
  }

  @Get('flash/:type')
  read(@Req() req: Req, @Param('type') type: string) {
    return req.flash(type);
  }

  @Get('flash')
  all(@Req() req: Req) {
    return req.flash();
  }

  @Post('saved')
  @Redirect('/flash/info', 303)
  saved(@Req() req: Req) {
    req.flash('info', 'Saved.');
  }

  /** nest-session's own API over the same messages. */
  @Post('push/:type/:message')
  @HttpCode(200)
  pushFlash(@Param('type') type: string, @Param('message') message: string) {
    return { count: this.session.pushFlash(type, message) };
  }

  @Get('pull/:type')
  pullFlash(@Param('type') type: string) {
    return this.session.pullFlash(type);
  }

  @Get('page')
  page() {
    return 'ok';
  }

  /** A message pushed and its level pulled again in the same request: nothing changes. */
  @Get('push-pull/:type')
  pushPull(@Param('type') type: string) {
    this.session.pushFlash(type, 'passing');
    return this.session.pullFlash(type);
  }

  /** The middleware below flashed on this request. */
  @Get('mw')
  mw(@Req() req: Req) {
    return req.flash('mw');
  }
}

/** The app's own middleware using req.flash, as Express apps do. */
@Module({ controllers: [FlashController] })
class FlashRoutes implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer
      .apply((req: Req, _res: unknown, next: Next) => (req.flash('mw', 'from a Nest middleware'), next()))
      .forRoutes('mw');
  }
}

const appModule = (driver: Driver) => {
  @Module({ imports: [sessionModule(driver), FlashRoutes] })
  class AppModule {}
  return AppModule;
};

const cases = platforms.flatMap((platform) =>
  drivers.flatMap((driver) => [
    [platform, driver, 'without connect-flash'] as const,
    [platform, driver, 'with connect-flash in main.ts'] as const,
  ]),
);

describe.each(cases)(
  "req.flash, connect-flash's API (%s, %s driver, %s)",
  (platform, driver, connectFlash) => {
    let app: INestApplication;
    beforeAll(async () => {
      // main.ts: connect-flash (if kept) and a middleware of the app's own that flashes.
      const setup = (app: { use(...handlers: unknown[]): unknown }) => {
        if (connectFlash !== 'without connect-flash') app.use(flash());
        app.use((req: Req & { url: string }, _res: unknown, next: Next) => {
          if (req.url.startsWith('/mw')) req.flash('mw', 'from app.use()');
          next();
        });
      };
      app = await boot(platform, appModule(driver), { express: setup, fastify: setup });
    });
    afterAll(() => app.close());

    it('req.flash(type, message) appends and counts; req.flash(type) reads and clears; req.flash() all', async () => {
      const a = agent(app);
      await a.post('/flash/info').send({ message: 'one' }).expect(200, { count: 1 });
      await a
        .post('/flash/info')
        .send({ message: ['two', 'three'] })
        .expect(200, { count: 3 });
      await a
        .post('/flash/error')
        .send({ message: 'no %s for %d', args: ['cake', 2] })
        .expect(200, { count: 1 });
      // Kept until read: a successful response in between does not clear them.
      await a.get('/page').expect(200);
      await a.get('/flash/info').expect(200, ['one', 'two', 'three']);
      await a.get('/flash/info').expect(200, []);
      await a.post('/flash/warn').send({ message: 'careful' }).expect(200, { count: 1 });
      await a.get('/flash').expect(200, { error: ['no cake for 2'], warn: ['careful'] });
      await a.get('/flash').expect(200, {});
    });

    it('flash, redirect, read: the pattern connect-flash is for', async () => {
      const a = agent(app);
      const b = agent(app);
      await a.post('/saved').expect(303).expect('Location', '/flash/info');
      await b.post('/saved').expect(303).expect('Location', '/flash/info');
      await a.get('/flash/info').expect(200, ['Saved.']);
      await b.get('/flash/info').expect(200, ['Saved.']);
      await a.get('/flash/info').expect(200, []);
    });

    it('is Session.pushFlash / pullFlash', async () => {
      const a = agent(app);
      await a.post('/flash/info').send({ message: 'by req.flash' }).expect(200, { count: 1 });
      await a.post('/push/info/by%20pushFlash').expect(200, { count: 2 });
      await a.get('/pull/info').expect(200, ['by req.flash', 'by pushFlash']);
    });

    it('writes nothing for messages pushed and pulled again in one request, unless the session brought some', async () => {
      // A visitor without a session: none is started.
      const fresh = await http(app).get('/push-pull/info').expect(200, ['passing']);
      expect(fresh.headers['set-cookie']).toBeUndefined();
      const a = agent(app);
      await a.post('/flash/other').send({ message: 'kept' }).expect(200, { count: 1 });
      const same = await a.get('/push-pull/info').expect(200, ['passing']);
      expect(same.headers['set-cookie']).toBeUndefined();
      // Messages of the level were there before: pulling them is a change.
      await a.post('/flash/info').send({ message: 'earlier' }).expect(200, { count: 1 });
      const changed = await a.get('/push-pull/info').expect(200, ['earlier', 'passing']);
      if (driver === 'cookie') expect(changed.headers['set-cookie']).toBeDefined();
      await a.get('/flash/info').expect(200, []);
      await a.get('/flash/other').expect(200, ['kept']);
    });

    it("no user ever sees another user's messages", async () => {
      const a = agent(app);
      const b = agent(app);
      await a.post('/flash/info').send({ message: 'for a only' }).expect(200, { count: 1 });
      await b.get('/flash/info').expect(200, []);
      await b.get('/flash').expect(200, {});
      await http(app).get('/flash/info').expect(200, []);
      await http(app).get('/flash').expect(200, {});
      await b.post('/flash/info').send({ message: 'for b only' }).expect(200, { count: 1 });
      await a.get('/flash/info').expect(200, ['for a only']);
      await b.get('/flash/info').expect(200, ['for b only']);
    });

    it("the app's middleware (app.use() and Nest middleware) flash on the session", async () => {
      const a = agent(app);
      await a.get('/mw').expect(200, ['from app.use()', 'from a Nest middleware']);
      await a.get('/flash/mw').expect(200, []);
    });
  },
);
