import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Module,
  Req,
  type INestApplication,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { agent, platforms } from '../../support/app.js';
import { boot, sessionModule, ways } from '../../support/ecosystem/boot.js';

type Req = { session?: Record<string, any>; url: string };
type Next = () => void;

/** Counts, in the session, the requests each middleware saw; undefined when it saw no session. */
const counting = (key: string) => (req: Req, _res: unknown, next: Next) => {
  if (req.session !== undefined) req.session[key] = (req.session[key] ?? 0) + 1;
  next();
};

@Controller()
class SeenController {
  @Get('seen')
  seen(@Req() req: Req) {
    return { ...req.session };
  }
}

@Module({ controllers: [SeenController] })
class Routes implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(counting('nestMiddleware')).forRoutes('{*path}');
  }
}

@Module({ imports: [sessionModule('memory'), Routes] })
class AppModule {}

describe.each(platforms.flatMap((p) => ways.map((w) => [p, w] as const)))(
  "the app's own middleware see the session (%s, app made as in %s)",
  (platform, way) => {
    let app: INestApplication;
    beforeAll(async () => {
      const setup = (app: { use(handler: unknown): unknown }) => void app.use(counting('appUse'));
      app = await boot(platform, AppModule, { way, express: setup, fastify: setup });
    });
    afterAll(() => app.close());

    it('app.use() in main.ts and Nest middleware read and write req.session', async () => {
      const a = agent(app);
      await a.get('/seen').expect(200, { appUse: 1, nestMiddleware: 1 });
      await a.get('/seen').expect(200, { appUse: 2, nestMiddleware: 2 });
    });
  },
);

describe('Fastify: the session request decorator, right after NestFactory.create()', () => {
  it('exists before app.init(), so plugins that depend on it register the usual way', async () => {
    const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
      logger: false,
    });
    try {
      const fastify = app.getHttpAdapter().getInstance();
      expect(fastify.hasRequestDecorator('session')).toBe(true);
      // A plugin that declares it depends on request.session, as @fastify/flash does.
      const plugin = Object.assign(
        async (instance: typeof fastify) => {
          instance.decorateRequest('sessionKeys', {
            getter(this: { session: Record<string, unknown> }) {
              return Object.keys(this.session);
            },
          });
        },
        {
          [Symbol.for('skip-override')]: true,
          [Symbol.for('plugin-meta')]: { name: 'needs-session', decorators: { request: ['session'] } },
        },
      );
      await app.register(plugin as never);
      await app.init();
      await fastify.ready();
      expect(fastify.hasRequestDecorator('sessionKeys')).toBe(true);
    } finally {
      await app.close();
    }
  });
});

describe('Express: the session comes before every layer of the app’s router', () => {
  it('reaches a middleware put first in the router’s stack (as instrumentation does), with no layer of its own', async () => {
    const app = await boot('express', AppModule, {
      express: (app) => {
        const router = app.getHttpAdapter().getInstance().router as { stack: unknown[] };
        const before = router.stack.length;
        app.use(counting('first'));
        router.stack.unshift(router.stack.pop());
        expect(router.stack.length).toBe(before + 1);
      },
    });
    try {
      await agent(app).get('/seen').expect(200, { first: 1, nestMiddleware: 1 });
    } finally {
      await app.close();
    }
  });
});
