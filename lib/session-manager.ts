import { HttpException, Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Keyring } from './crypto/keyring.js';
import { CookieDriver } from './drivers/cookie.driver.js';
import { DatabaseStore } from './stores/database.store.js';
import { MemoryStore } from './stores/memory.store.js';
import { RedisStore } from './stores/redis.store.js';
import type { SessionDriver } from './drivers/session-driver.js';
import { isClosable, type SessionStore } from './stores/session-store.js';
import { StoreDriver } from './drivers/store.driver.js';
import { CookieWriter, readCookies } from './http/cookies.js';
import { committerOf, hookResponse, hookResponsePrototype, reserveHookSlot } from './http/response-hooks.js';
import { SessionState } from './core/session-state.js';
import { RequestContext, currentContext, requestContext } from './http/request-context.js';
import { Session } from './session.js';
import { SessionConfigError, SessionStoreUnavailableError } from './session.errors.js';
import { MODULE_OPTIONS_TOKEN } from './session.module-definition.js';
import {
  resolveSessionOptions,
  type ResolvedSessionOptions,
  type SessionModuleOptions,
} from './session.options.js';

export type SessionStoreFactory = (options: ResolvedSessionOptions) => SessionStore;
type DriverFactory = (name: string, cookieName: string) => SessionDriver;
/** Marks a request prototype whose `session` is an accessor (Express's `app.request`). */
const SESSION_ACCESSOR = Symbol('nest-session:request');

/**
 * Drivers by name, the current request's sessions, and the request lifecycle: load before guards,
 * commit once as the response goes out.
 */
@Injectable()
export class SessionManager implements OnApplicationShutdown {
  readonly options: ResolvedSessionOptions;
  private readonly logger = new Logger('Session');
  private readonly keyring: Keyring;
  private readonly cookieWriter: CookieWriter;
  private readonly factories = new Map<string, DriverFactory>();
  private readonly drivers = new Map<string, SessionDriver>();
  private readonly sessions = new Map<string, Session>();
  private readonly defaultSession: Session;
  /** Cookie name -> driver name, for every driver a request may bring a cookie for. */
  private readonly cookieNames = new Map<string, string>();
  private readonly lookup = (name: string) => this.resolve(name);
  /** Drivers whose factory threw, logged once until they build. */
  private readonly unbuilt = new Set<string>();

  constructor(@Inject(MODULE_OPTIONS_TOKEN) input: SessionModuleOptions | string) {
    this.options = resolveSessionOptions(input, process.env, (message) => this.logger.warn(message));
    this.keyring = new Keyring(this.options.secrets);
    this.cookieWriter = new CookieWriter(this.options.cookie);
    this.extend('memory', (options) => new MemoryStore(options.memory));
    this.extend('database', (options) => new DatabaseStore(options.database, this.logger));
    this.extend('redis', (options) => new RedisStore(options.redis));
    this.register(
      'cookie',
      (driverName, cookieName) =>
        new CookieDriver(driverName, cookieName, this.keyring, this.cookieWriter, this.options, this.logger),
    );
    this.defaultSession = new Session(this.options.driver);
  }

  /** The current request's session kept by a driver (the default one when no name is given). */
  driver(name: string = this.options.driver): Session {
    currentContext();
    try {
      this.resolve(name);
    } catch (error) {
      // An unknown name is the app's mistake; a driver that cannot be built is down for this request.
      throw error instanceof SessionConfigError ? error : new SessionStoreUnavailableError(name, error);
    }
    let session = this.sessions.get(name);
    if (session === undefined) {
      session = name === this.options.driver ? this.defaultSession : new Session(name);
      this.sessions.set(name, session);
    }
    return session;
  }

  /** Registers a custom server-side store under a driver name (usable as `forRoot(name)` too). */
  extend(name: string, factory: SessionStoreFactory): this {
    return this.register(name, (driverName, cookieName) => {
      return new StoreDriver(
        driverName,
        cookieName,
        factory(this.options),
        this.keyring,
        this.cookieWriter,
        this.options,
        this.logger,
      );
    });
  }

  /** The raw store behind a server-side driver, for admin work (`prune()`, `destroy(id)`). */
  store(name: string = this.options.driver): SessionStore {
    const driver = this.resolve(name);
    if (!(driver instanceof StoreDriver)) {
      throw new SessionConfigError(
        'SESSION_NO_STORE',
        `the '${name}' driver keeps sessions in cookies, not in a store`,
      );
    }
    return driver.store;
  }

  /** @internal the Session every controller gets injected. */
  get session(): Session {
    return this.defaultSession;
  }

  /** @internal registers a driver that is not a SessionStore (the cookie driver). */
  register(name: string, factory: DriverFactory): this {
    if (this.drivers.has(name)) {
      throw new SessionConfigError(
        'SESSION_DRIVER_IN_USE',
        `the '${name}' driver is already in use; extend() it before the first request`,
      );
    }
    this.factories.set(name, factory);
    this.cookieNames.set(this.cookieNameOf(name), name);
    return this;
  }

  /** @internal Fails at start-up when the default driver does not exist. */
  checkDefaultDriver(): void {
    this.resolve(this.options.driver);
  }

  /**
   * @internal The request lifecycle: read the cookies, load every driver the request brought a
   * cookie for, hook the response for the commit, then run the rest of the request in the context.
   */
  handle(
    req: IncomingMessage & { session?: unknown },
    res: ServerResponse,
    secure: () => boolean,
    next: () => void,
  ): void {
    const cookies = readCookies(req.headers.cookie);
    const ctx = new RequestContext(this.options.driver, cookies, secure, Date.now(), this.lookup);
    if (!(SESSION_ACCESSOR in req)) req.session = this.sessionFor(ctx);
    hookResponse(res, ctx, errorResponse);
    let loading: Promise<void>[] | undefined;
    for (const cookieName in cookies) {
      const driverName = this.cookieNames.get(cookieName);
      if (driverName === undefined) continue;
      const adopt = (state: SessionState) => void ctx.states.set(driverName, state);
      let loaded: Promise<SessionState> | SessionState;
      try {
        loaded = this.resolve(driverName).load(cookies[cookieName], ctx.now);
      } catch (error) {
        // A driver that cannot be built or load: its session fails where it is used, as a store that is down.
        loaded = SessionState.failed(driverName, error);
      }
      if (loaded instanceof Promise) {
        (loading ??= []).push(
          loaded.then(adopt, (error: unknown) => adopt(SessionState.failed(driverName, error))),
        );
      } else {
        adopt(loaded);
      }
    }
    const run = () => requestContext.run(ctx, next);
    if (loading === undefined) run();
    else (loading.length === 1 ? loading[0] : Promise.all(loading)).then(run);
  }

  /**
   * @internal Express: the response hooks and `req.session` go on the app's response and request
   * prototypes once, so nothing is added to each request's objects (costly on Express's).
   */
  bindPrototypes(app: { request: object; response: object }, server: unknown): void {
    hookResponsePrototype(app.response);
    if (server instanceof EventEmitter && !server.listeners('request').includes(reserveHookSlot))
      server.prependListener('request', reserveHookSlot);
    if (Object.hasOwn(app.request, SESSION_ACCESSOR)) return;
    const sessionOf = (res: ServerResponse | undefined) => {
      const ctx = res === undefined ? undefined : committerOf(res);
      return ctx instanceof RequestContext ? this.sessionFor(ctx) : undefined;
    };
    Object.defineProperties(app.request, {
      [SESSION_ACCESSOR]: { value: true },
      session: {
        configurable: true,
        get(this: { res?: ServerResponse }) {
          return sessionOf(this.res);
        },
        set(this: object, value: unknown) {
          Object.defineProperty(this, 'session', {
            value,
            writable: true,
            configurable: true,
            enumerable: true,
          });
        },
      },
    });
  }

  /** The request's `req.session`: a Session bound to its context. */
  private sessionFor(ctx: RequestContext): Session {
    return (ctx.session ??= new Session(this.options.driver, ctx));
  }

  async onApplicationShutdown(): Promise<void> {
    for (const driver of this.drivers.values()) {
      if (driver instanceof StoreDriver && isClosable(driver.store)) await driver.store.close();
    }
  }

  private resolve(name: string): SessionDriver {
    let driver = this.drivers.get(name);
    if (driver !== undefined) return driver;
    const factory = this.factories.get(name);
    if (factory === undefined) {
      throw new SessionConfigError(
        'SESSION_DRIVER_UNKNOWN',
        `no session driver named '${name}'; use 'memory', 'cookie', 'database', 'redis' or register it with SessionManager.extend('${name}', factory)`,
      );
    }
    try {
      driver = factory(name, this.cookieNameOf(name));
    } catch (error) {
      // Tried again on the next request that needs it; said once until it builds.
      if (!this.unbuilt.has(name)) {
        this.unbuilt.add(name);
        this.logger.error(
          `The '${name}' session driver could not be built: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      throw error;
    }
    this.unbuilt.delete(name);
    this.drivers.set(name, driver);
    return driver;
  }

  private cookieNameOf(driver: string): string {
    return driver === this.options.driver
      ? this.options.cookie.name
      : `${this.options.cookie.name}_${driver}`;
  }
}

/** The body Nest's default exception filter would send for the error. */
function errorResponse(error: unknown): { status: number; body: object } {
  const http = error instanceof HttpException ? error : new SessionStoreUnavailableError('session', error);
  const response = http.getResponse();
  const status = http.getStatus();
  return {
    status,
    body: typeof response === 'object' ? response : { statusCode: status, message: response },
  };
}
