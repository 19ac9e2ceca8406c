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
import { installExpress, type ExpressApp } from './http/express.adapter.js';
import { installFastify, type FastifyInstance } from './http/fastify.adapter.js';
import { SessionMiddleware } from './http/session.middleware.js';
import { SessionManager } from './session-manager.js';
import { Session } from './session.js';
import { ASYNC_OPTIONS_TYPE, ConfigurableModuleClass, OPTIONS_TYPE } from './session.module-definition.js';

/**
 * `SessionModule.forRoot(driver | options)` or `forRootAsync({ imports, inject, useFactory })`:
 * a global module that puts SessionManager and Session in the container, loads sessions before
 * guards and commits them as responses go out, on Express and on Fastify.
 */
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

  /** Picks the adapter's glue (lib/http/*.adapter.ts); any other adapter gets a Nest middleware. */
  configure(consumer: MiddlewareConsumer): void {
    const adapter = this.adapterHost.httpAdapter;
    const lifecycle = this.manager.lifecycle;
    switch (adapter?.getType()) {
      case 'fastify':
        return installFastify(adapter.getInstance<FastifyInstance>(), lifecycle);
      case 'express':
        return installExpress(adapter.getInstance<ExpressApp>(), adapter.getHttpServer(), lifecycle);
      default:
        consumer.apply(SessionMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
    }
  }

  /** After every module's onModuleInit, so drivers registered there with extend() count. */
  onApplicationBootstrap(): void {
    this.manager.checkDrivers();
  }
}
