import {
  Module,
  Optional,
  RequestMethod,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationBootstrap,
  type Provider,
} from '@nestjs/common';
import { DiscoveryModule, HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { NoTouchInterceptor } from './events/no-touch.interceptor.js';
import { SessionEvents } from './events/session-events.js';
import { SessionEventsExplorer } from './events/session-events.explorer.js';
import { SessionHealthIndicator } from './events/session-health.indicator.js';
import { FlashInterceptor } from './flash/flash.interceptor.js';
import { installExpress, reserveGateSlots, type ExpressApp } from './http/express.adapter.js';
import { installFastify, installFastifyFlash, type FastifyAdapterLike } from './http/fastify.adapter.js';
import { SessionLifecycle } from './http/lifecycle.js';
import { SessionMiddleware } from './http/nest-middleware.js';
import { GraphqlEndpoints } from './realtime/graphql.js';
import { SessionSockets } from './realtime/sockets.js';
import { SessionManager } from './session-manager.js';
import { Session } from './session.js';
import { SessionRegistry } from './users/session-registry.js';
import { SessionConfigError } from './session.errors.js';
import { ASYNC_OPTIONS_TYPE, ConfigurableModuleClass, OPTIONS_TYPE } from './session.module-definition.js';

/** The manager forRoot() configured, under a token its module exports: what a bare import finds. */
const CONFIGURED = Symbol('nest-session:configured');

/** What forRoot() and forRootAsync() add to the options provider the module builder gives them. */
const CONFIGURED_PROVIDERS: Provider[] = [
  SessionManager,
  { provide: CONFIGURED, useExisting: SessionManager },
  {
    provide: SessionLifecycle,
    useFactory: (manager: SessionManager) => manager.lifecycle,
    inject: [SessionManager],
  },
  SessionMiddleware,
  GraphqlEndpoints,
  // WebSocket gateways: hooks the app's WebSocket adapter as it is set (realtime/sockets.ts).
  SessionSockets,
  SessionEventsExplorer,
];

/** A bare `imports: [SessionModule]`: the manager of the forRoot() called elsewhere, or an error that says to call it. */
function configuredManager(manager: SessionManager | undefined): SessionManager {
  if (manager !== undefined) return manager;
  throw new SessionConfigError(
    'SESSION_MODULE_NOT_CONFIGURED',
    'SessionModule is imported without options and no SessionModule.forRoot() is visible: call ' +
      'SessionModule.forRoot() (or forRootAsync()) once, in the root module; feature modules then import ' +
      'SessionModule as it is (with isGlobal: false, only the modules that import that forRoot() see it)',
  );
}

/**
 * `SessionModule.forRoot(driver | options)` or `forRootAsync({ imports, inject, useFactory })`:
 * a global module that puts SessionManager and Session in the container, loads sessions before
 * guards and commits them as responses go out, on Express and on Fastify. The providers below are
 * what a bare `imports: [SessionModule]` gives; forRoot()'s own manager replaces the first (Nest adds
 * a dynamic module's providers after its decorator's, as @nestjs/config's ConfigModule relies on).
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: SessionManager,
      useFactory: configuredManager,
      inject: [{ token: CONFIGURED, optional: true }],
    },
    {
      provide: SessionRegistry,
      useFactory: (manager: SessionManager) => new SessionRegistry(manager.registryHost()),
      inject: [SessionManager],
    },
    { provide: Session, useFactory: (manager: SessionManager) => manager.session, inject: [SessionManager] },
    FlashInterceptor,
    // Events and health (lib/events/).
    {
      provide: SessionEvents,
      useFactory: (manager: SessionManager) => manager.events,
      inject: [SessionManager],
    },
    {
      provide: SessionHealthIndicator,
      useFactory: (manager: SessionManager, moduleRef: ModuleRef) =>
        new SessionHealthIndicator(() => manager.ping(), manager.options.driver, moduleRef),
      inject: [SessionManager, ModuleRef],
    },
    NoTouchInterceptor,
  ],
  exports: [
    SessionManager,
    Session,
    SessionRegistry,
    FlashInterceptor,
    SessionEvents,
    SessionHealthIndicator,
    NoTouchInterceptor,
  ],
})
export class SessionModule extends ConfigurableModuleClass implements NestModule, OnApplicationBootstrap {
  /** The adapter whose glue was installed when it appeared; undefined: another adapter (a Nest middleware). */
  private installed: 'express' | 'fastify' | undefined;

  constructor(
    private readonly manager: SessionManager,
    private readonly adapterHost: HttpAdapterHost,
    /** Only forRoot()'s module has it: a bare import leaves the request's way to that one. */
    @Optional() private readonly lifecycle?: SessionLifecycle,
  ) {
    super();
    // As soon as the adapter exists (at once after NestFactory.create(); at createNestApplication()
    // for a testing module), so the session is there for middleware main.ts adds with app.use().
    if (lifecycle !== undefined) adapterHost.init$.subscribe(() => this.install());
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
    return withSession(super.forRoot(typeof options === 'string' ? { driver: options } : options));
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return withSession(super.forRootAsync(options));
  }

  /** At app.init(): what needs the HTTP server or the app's plugins; any other adapter gets a Nest middleware. */
  configure(consumer: MiddlewareConsumer): void {
    if (this.lifecycle === undefined) return;
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
  async onApplicationBootstrap(): Promise<void> {
    if (this.lifecycle !== undefined) await this.manager.checkDrivers();
  }
}

/** forRoot()'s module: the builder's (the options, isGlobal) with the session's providers. */
function withSession(definition: DynamicModule): DynamicModule {
  return {
    ...definition,
    providers: [...(definition.providers ?? []), ...CONFIGURED_PROVIDERS],
    exports: [...(definition.exports ?? []), CONFIGURED, SessionSockets],
  };
}
