import {
  Module,
  RequestMethod,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import { FlashInterceptor } from './flash/flash.interceptor.js';
import { SessionMiddleware } from './http/session.middleware.js';
import { SessionManager } from './session-manager.js';
import { FASTIFY_HTTPS } from './session.internal-constants.js';
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
    { provide: APP_INTERCEPTOR, useClass: FlashInterceptor },
    SessionMiddleware,
  ],
  exports: [SessionManager, Session],
})
export class SessionModule
  extends ConfigurableModuleClass
  implements NestModule, OnModuleInit, OnApplicationBootstrap
{
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

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }

  onModuleInit(): void {
    exposeOnFastifyRequest(this.adapterHost, this.manager.options.cookie.secure === 'auto');
  }

  /** After every module's onModuleInit, so drivers registered there with extend() count. */
  onApplicationBootstrap(): void {
    this.manager.checkDefaultDriver();
  }
}

/**
 * On Fastify, Nest's @Session() reads request.session: make it the raw request's session. With
 * cookie.secure 'auto', record request.protocol (it honours Fastify's trustProxy) for the commit.
 */
function exposeOnFastifyRequest(adapterHost: HttpAdapterHost, recordProtocol: boolean): void {
  const adapter = adapterHost.httpAdapter;
  if (adapter?.getType() !== 'fastify') return;
  type Request = { raw: { session?: unknown; [FASTIFY_HTTPS]?: boolean }; protocol: string };
  const fastify = adapter.getInstance() as {
    hasRequestDecorator(name: string): boolean;
    decorateRequest(name: string, value: unknown): void;
    addHook(name: 'onRequest', hook: (req: Request, reply: unknown, done: () => void) => void): void;
  };
  if (!fastify.hasRequestDecorator('session')) {
    fastify.decorateRequest('session', {
      getter(this: Request) {
        return this.raw.session;
      },
    });
  }
  if (recordProtocol) {
    fastify.addHook('onRequest', (req, _reply, done) => {
      req.raw[FASTIFY_HTTPS] = req.protocol === 'https';
      done();
    });
  }
}
