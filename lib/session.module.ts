import {
  Module,
  RequestMethod,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { FlashInterceptor } from './flash/flash.interceptor.js';
import { installFastifyHook } from './http/fastify-hook.js';
import { SessionMiddleware, expressSessionHandler } from './http/session.middleware.js';
import { SessionManager } from './session-manager.js';
import { Session } from './session.js';
import { ASYNC_OPTIONS_TYPE, ConfigurableModuleClass, OPTIONS_TYPE } from './session.module-definition.js';

/**
 * `SessionModule.forRoot(driver | options)` or `forRootAsync({ imports, inject, useFactory })`:
 * a global module that puts SessionManager and Session in the container, loads sessions before
 * guards and commits them as responses go out, on Express and on Fastify.
 */
interface ExpressApp {
  request: object;
  response: object;
  use(handler: ReturnType<typeof expressSessionHandler>): unknown;
}

@Module({
  providers: [
    SessionManager,
    { provide: Session, useFactory: (manager: SessionManager) => manager.session, inject: [SessionManager] },
    FlashInterceptor,
    SessionMiddleware,
  ],
  exports: [SessionManager, Session, FlashInterceptor],
})
export class SessionModule extends ConfigurableModuleClass implements NestModule, OnApplicationBootstrap {
  constructor(
    private readonly manager: SessionManager,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    super();
  }

  static override forRoot(options: typeof OPTIONS_TYPE | string): DynamicModule {
    return super.forRoot(typeof options === 'string' ? { driver: options } : options);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }

  /**
   * Express: a handler added to the express app now, so it runs before the app's Nest middleware,
   * with the response hooks and `req.session` on the app's prototypes. Fastify: an onRequest hook,
   * added now so it runs before any middleware. Any other adapter: a Nest middleware.
   */
  configure(consumer: MiddlewareConsumer): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() === 'fastify') {
      installFastifyHook(adapter.getInstance(), this.manager);
      return;
    }
    if (adapter?.getType() === 'express') {
      const app = adapter.getInstance<ExpressApp>();
      this.manager.bindPrototypes(app, adapter.getHttpServer());
      app.use(expressSessionHandler(this.manager));
      return;
    }
    consumer.apply(SessionMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }

  /** After every module's onModuleInit, so drivers registered there with extend() count. */
  onApplicationBootstrap(): void {
    this.manager.checkDefaultDriver();
  }
}
