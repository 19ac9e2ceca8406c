import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  RequestMethod,
  UseGuards,
  type MiddlewareConsumer,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import express from 'express';
import { createServer, type Server } from 'node:http';
import {
  FlashInterceptor,
  Session,
  SessionManager,
  SessionModule,
  SessionOutsideRequestError,
} from 'nest-session';
import { agent, cookiePair, createApp, http, platforms, setCookies, type Platform } from '../support/app.js';
import { FeatureModule, SECRET, sessionApp } from '../support/session-app.js';
import { MapStore, extendModule } from '../support/stores.js';

const OTHER_SECRET = 'another-secret-that-is-long-enough-9876543210';

@Injectable()
class Config {
  readonly sessionSecret = SECRET;
  readonly idle = 120_000;
}
@Module({ providers: [Config], exports: [Config] })
class ConfigModule {}

describe.each(platforms)('SessionModule on %s', (platform) => {
  let apps: INestApplication[] = [];
  const start = async (module: Parameters<typeof createApp>[1]) => {
    const app = await createApp(platform, module);
    apps.push(app);
    return app;
  };
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps = [];
  });

  it('forRoot(driver) with the driver name alone', async () => {
    process.env.SESSION_SECRET = SECRET;
    try {
      const app = await start(sessionApp('memory'));
      const a = agent(app);
      await a.post('/set').send({ x: 1 }).expect(200);
      await a.get('/get/x').expect(200, { value: 1, has: true });
    } finally {
      delete process.env.SESSION_SECRET;
    }
  });

  it('forRootAsync({ imports, inject, useFactory })', async () => {
    @Module({
      imports: [
        SessionModule.forRootAsync({
          imports: [ConfigModule],
          inject: [Config],
          useFactory: (config: Config) => ({ secret: config.sessionSecret, idleTimeout: config.idle }),
        }),
        (await import('../support/session-app.js')).FeatureModule,
      ],
    })
    class AsyncApp {}
    const app = await start(AsyncApp);
    expect(app.get(SessionManager).options.idleTimeout).toBe(120_000);
    const a = agent(app);
    await a.post('/set').send({ x: 2 }).expect(200);
    await a.get('/get/x').expect(200, { value: 2, has: true });
  });

  it('says so when Session or SessionManager.driver() is used outside a request', async () => {
    const app = await start(sessionApp({ secret: SECRET }));
    expect(() => app.get(Session).get('x')).toThrow(SessionOutsideRequestError);
    expect(() => app.get(Session).set('x', 1)).toThrow(
      /SESSION_OUTSIDE_REQUEST: the session is only available while a request/,
    );
    expect(() => app.get(SessionManager).driver()).toThrow(SessionOutsideRequestError);
  });

  it('fails at start-up on an unknown driver, naming the fix', async () => {
    await expect(createApp(platform, sessionApp({ driver: 'nope', secret: SECRET }))).rejects.toThrow(
      /SESSION_DRIVER_UNKNOWN: no session driver named 'nope'.*SessionManager.extend\('nope', factory\)/,
    );
  });

  it('fails at start-up in production without a secret', async () => {
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await expect(createApp(platform, sessionApp({}))).rejects.toThrow(/SESSION_SECRET_MISSING/);
    } finally {
      process.env.NODE_ENV = env;
    }
  });

  it('rotates secrets: a cookie signed with the old secret still opens with [new, old], not with [new]', async () => {
    const shared = new MapStore();
    const oldApp = await start(
      sessionApp({ driver: 'shared', secret: SECRET }, [extendModule('shared', () => shared)]),
    );
    const res = await http(oldApp).post('/set').send({ userId: 9 }).expect(200);
    const pair = cookiePair(res, 'nest_session')!;
    const rotated = await start(
      sessionApp({ driver: 'shared', secret: [OTHER_SECRET, SECRET] }, [
        extendModule('shared', () => shared),
      ]),
    );
    const seen = await http(rotated).get('/state').set('Cookie', pair).expect(200);
    expect(seen.body).toMatchObject({ isNew: false, data: { userId: 9 } });
    const dropped = await start(
      sessionApp({ driver: 'shared', secret: OTHER_SECRET }, [extendModule('shared', () => shared)]),
    );
    const fresh = await http(dropped).get('/state').set('Cookie', pair).expect(200);
    expect(fresh.body).toMatchObject({ isNew: true, data: {} });
  });

  it('keeps a second driver, used through SessionManager.driver(name), in its own cookie', async () => {
    const app = await start(sessionApp({ secret: SECRET }, [extendModule('side', () => new MapStore())]));
    const a = agent(app);
    const res = await a.post('/driver/side').send({ theme: 'dark' }).expect(200, { theme: 'dark' });
    expect(setCookies(res).map((c) => c.split('=')[0])).toEqual(['nest_session_side']);
    await a.post('/set').send({ userId: 1 }).expect(200);
    await a.get('/driver/side').expect(200, { data: { theme: 'dark' }, defaultData: { userId: 1 } });
    await a.get('/driver/memory').expect(200, { data: { userId: 1 }, defaultData: { userId: 1 } });
  });

  it('runs FlashInterceptor only on @KeepFlash() routes: no interceptor on any other route', async () => {
    const app = await start(sessionApp({ secret: SECRET }));
    const intercept = jest.spyOn(FlashInterceptor.prototype, 'intercept');
    try {
      await http(app).post('/set').send({ a: 1 }).expect(200);
      await http(app).get('/untouched').expect(200);
      expect(intercept).not.toHaveBeenCalled();
      await http(app).get('/poll').expect(200);
      expect(intercept).toHaveBeenCalledTimes(1);
    } finally {
      intercept.mockRestore();
    }
  });

  it.each([
    [false, undefined, false],
    [true, undefined, true],
    ['auto', 'http', false],
    ['auto', 'https', true],
  ] as const)(
    'cookie.secure %s with X-Forwarded-Proto %s behind a trusted proxy: Secure=%s',
    async (secure, proto, expected) => {
      const app = await startBehindProxy(platform, sessionApp({ secret: SECRET, cookie: { secure } }));
      apps.push(app);
      const req = request(app.getHttpServer()).post('/set').send({ a: 1 });
      if (proto) req.set('X-Forwarded-Proto', proto);
      const res = await req.expect(200);
      const cookie = setCookies(res).find((c) => c.startsWith('nest_session='))!;
      expect(/; Secure/.test(cookie)).toBe(expected);
    },
  );
});

async function startBehindProxy(platform: Platform, module: Parameters<typeof createApp>[1]) {
  const ref = await Test.createTestingModule({ imports: [module] }).compile();
  if (platform === 'express') {
    const app = ref.createNestApplication<NestExpressApplication>(new ExpressAdapter(), { logger: false });
    app.set('trust proxy', true);
    return app.init();
  }
  const app = ref.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ trustProxy: true }), {
    logger: false,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** An app middleware that reads req.session: the session is loaded before the app's middleware runs. */
@Injectable()
class WhoMiddleware {
  use(req: { session: Session }, res: { setHeader(name: string, value: string): void }, next: () => void) {
    res.setHeader('x-user', String(req.session.get('userId') ?? 'nobody'));
    next();
  }
}

@Injectable()
class RootWhoMiddleware {
  use(req: { session?: Session }, res: { setHeader(name: string, value: string): void }, next: () => void) {
    res.setHeader('x-root-user', String(req.session?.get('userId') ?? 'none'));
    next();
  }
}

@Module({})
class WhoModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(WhoMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}

/** A guard that reads request.session, as code written for express-session does. */
@Injectable()
class RequestSessionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ session: Session }>();
    return req.session.has('userId');
  }
}

@Controller('req')
class RequestSessionController {
  constructor(@Inject(Session) private readonly session: Session) {}
  @Get('guarded')
  @UseGuards(RequestSessionGuard)
  guarded() {
    return { userId: this.session.get('userId') };
  }
}

describe.each(platforms)('request.session on %s', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp(
      platform,
      sessionApp({ secret: SECRET }, [{ module: class {}, controllers: [RequestSessionController] }]),
    );
  });
  afterAll(() => app.close());

  it('is there in guards, before the handler', async () => {
    const a = agent(app);
    await a.get('/req/guarded').expect(403);
    await a.post('/set').send({ userId: 3 }).expect(200);
    await a.get('/req/guarded').expect(200, { userId: 3 });
  });
});

describe('request.session on express', () => {
  // On Fastify the session is loaded in an onRequest hook that runs after Nest's middleware (middie),
  // so there only guards, interceptors, pipes, handlers and filters see it.
  it("is there in the app's own middleware", async () => {
    const withMiddleware = await createApp('express', sessionApp({ secret: SECRET }, [WhoModule]));
    try {
      const a = agent(withMiddleware);
      await a.get('/state').expect(200).expect('x-user', 'nobody');
      await a.post('/set').send({ userId: 8 }).expect(200);
      await a.get('/state').expect(200).expect('x-user', '8');
    } finally {
      await withMiddleware.close();
    }
  });

  it('is there in the middleware of a module imported before SessionModule, and of the root module', async () => {
    @Module({ imports: [WhoModule, SessionModule.forRoot({ secret: SECRET }), FeatureModule] })
    class MiddlewareFirstModule {
      configure(consumer: MiddlewareConsumer) {
        consumer.apply(RootWhoMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
      }
    }
    const app = await createApp('express', MiddlewareFirstModule);
    try {
      const a = agent(app);
      await a.post('/set').send({ userId: 9 }).expect(200);
      await a.get('/state').expect(200).expect('x-user', '9').expect('x-root-user', '9');
    } finally {
      await app.close();
    }
  });
});

describe('an Express app served by a server the app creates itself', () => {
  // Nest's "several servers" recipe: the express instance is handed to http.createServer, so the
  // requests never pass through the server Nest made.
  let app: INestApplication;
  let server: Server;
  beforeAll(async () => {
    const instance = express();
    const ref = await Test.createTestingModule({
      imports: [
        sessionApp({ secret: SECRET }, [{ module: class {}, controllers: [RequestSessionController] }]),
      ],
    }).compile();
    app = ref.createNestApplication(new ExpressAdapter(instance), { logger: false });
    await app.init();
    server = createServer(instance);
  });
  afterAll(() => app.close());

  it('keeps sessions, commits them and gives guards request.session', async () => {
    const a = request.agent(server);
    await a.get('/req/guarded').expect(403);
    await a.post('/set').send({ userId: 5 }).expect(200);
    await a.post('/flash-redirect').send({ success: 'saved' }).expect(302);
    await a.get('/read-flash').expect(200, { success: 'saved', all: { success: 'saved' } });
    await a.get('/req/guarded').expect(200, { userId: 5 });
    const state = await a.get('/state').expect(200);
    expect(state.body).toMatchObject({ isNew: false, data: { userId: 5 }, flash: {} });
  });
});
