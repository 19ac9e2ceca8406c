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
import { installExpress, reserveGateSlots, type ExpressApp } from './http/express.adapter.js';
import { installFastify, installFastifyFlash, type FastifyAdapterLike } from './http/fastify.adapter.js';
import { SessionLifecycle } from './http/lifecycle.js';
import { SessionMiddleware } from './http/nest-middleware.js';
import { SessionManager } from './session-manager.js';
import { Session } from './session.js';
import { SessionRegistry } from './users/session-registry.js';
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
    {
      provide: SessionRegistry,
      useFactory: (manager: SessionManager) => new SessionRegistry(manager.registryHost()),
      inject: [SessionManager],
    },
    {
      provide: SessionLifecycle,
      useFactory: (manager: SessionManager) => manager.lifecycle,
      inject: [SessionManager],
    },
    FlashInterceptor,
    SessionMiddleware,
  ],
  exports: [SessionManager, Session, SessionRegistry, FlashInterceptor],
})
export class SessionModule extends ConfigurableModuleClass implements NestModule, OnApplicationBootstrap {
  /** The adapter whose glue was installed when it appeared; undefined: another adapter (a Nest middleware). */
  private installed: 'express' | 'fastify' | undefined;

  constructor(
    private readonly manager: SessionManager,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    super();
    // As soon as the adapter exists (at once after NestFactory.create(); at createNestApplication()
    // for a testing module), so the session is there for middleware main.ts adds with app.use().
    adapterHost.init$.subscribe(() => this.install());
  }

  /** Picks the adapter's glue (lib/http/*.adapter.ts). */
  private install(): void {
    const adapter = this.adapterHost.httpAdapter;
    const lifecycle = this.manager.lifecycle;
    switch (adapter?.getType()) {
      case 'fastify':
        installFastify(adapter as unknown as FastifyAdapterLike, lifecycle);
        this.installed = 'fastify';
        return;
      case 'express':
        installExpress(adapter.getInstance<ExpressApp>(), lifecycle);
        this.installed = 'express';
        return;
    }
  }

  static override forRoot(options: typeof OPTIONS_TYPE | string): DynamicModule {
    return super.forRoot(typeof options === 'string' ? { driver: options } : options);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }

  /** At app.init(): what needs the HTTP server or the app's plugins; any other adapter gets a Nest middleware. */
  configure(consumer: MiddlewareConsumer): void {
    const adapter = this.adapterHost.httpAdapter;
    switch (this.installed) {
      case 'express':
        return reserveGateSlots(adapter.getHttpServer());
      case 'fastify':
        return installFastifyFlash(adapter as unknown as FastifyAdapterLike);
      default:
        consumer.apply(SessionMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
    }
  }

  /** After every module's onModuleInit, so drivers registered there with extend() count. */
  onApplicationBootstrap(): Promise<void> {
    return this.manager.checkDrivers();
  }
}
