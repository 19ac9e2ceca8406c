import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Keyring } from './crypto/keyring.js';
import { CookieDriver } from './drivers/cookie.driver.js';
import { DriverRegistry, type DriverFactory } from './drivers/driver-registry.js';
import type { DriverUsers, SessionDriver } from './drivers/session-driver.js';
import { StoreDriver } from './drivers/store.driver.js';
import { SessionEvents } from './events/session-events.js';
import { CookieWriter } from './http/cookies.js';
import { currentScope } from './core/request-scope.js';
import { SessionLifecycle } from './http/lifecycle.js';
import { Migration } from './migration/migration.js';
import { Session, type SessionServices } from './session.js';
import { SessionConfigError, SessionStoreUnavailableError } from './session.errors.js';
import { MODULE_OPTIONS_TOKEN } from './session.module-definition.js';
import {
  resolveSessionOptions,
  type ResolvedSessionOptions,
  type SessionModuleOptions,
} from './session.options.js';
import { BUILT_IN_STORE_NAMES, createBuiltInStore } from './stores/built-in.js';
import { isStartupChecked, type SessionStore } from './stores/session-store.js';
import { revocableCookie } from './users/revocable-cookie.js';
import { revocationStore as revocationStoreOf } from './users/revocation-record.js';
import { usersUnsupported, type RegistryHost } from './users/session-registry.js';

export type SessionStoreFactory = (options: ResolvedSessionOptions) => SessionStore;

/** The drivers: `driver(name)` for the current request's session kept by one, `extend()`, `store()`. */
@Injectable()
export class SessionManager implements OnApplicationShutdown {
  readonly options: ResolvedSessionOptions;
  /** @internal */
  readonly lifecycle: SessionLifecycle;
  /** @internal the Session every controller gets injected. */
  readonly session: Session;
  private readonly logger = new Logger('Session');
  private readonly keyring: Keyring;
  /** @internal What every Session of this module needs besides the request's state. */
  readonly services: SessionServices;
  /** @internal the drivers by name and cookie (realtime/ loads a socket's sessions with it). */
  readonly registry: DriverRegistry;
  /** @internal The module's SessionEvents: drivers, the lifecycle and the registry report to it. */
  readonly events = new SessionEvents();
  private readonly sessions = new Map<string, Session>();
  /** Built-in drivers other than the default whose options were given: checked at start-up. */
  private readonly configured: string[];

  constructor(@Inject(MODULE_OPTIONS_TOKEN) input: SessionModuleOptions | string) {
    this.options = resolveSessionOptions(input, process.env, (message) => this.logger.warn(message));
    this.keyring = new Keyring(this.options.secrets, this.options.seal);
    const cookies = new CookieWriter(this.options.cookie, (message) => this.logger.warn(message));
    this.registry = new DriverRegistry(this.options.driver, this.options.cookie.name, this.logger);
    const keyring = this.keyring;
    this.services = {
      policies: this.options.policies,
      users: this.options.users,
      handle: (id) => keyring.handle(id),
    };

    const migration =
      this.options.migrateFrom.length === 0
        ? undefined
        : new Migration(
            this.options,
            this.keyring,
            () => this.registry.resolve(this.options.driver),
            this.logger,
          );
    this.lifecycle = new SessionLifecycle(this.options, this.registry, cookies, this.services, migration);
    this.lifecycle.events = this.events;
    const context = { maxSize: this.options.maxSize, logger: this.logger, now: this.options.clock };
    for (const name of BUILT_IN_STORE_NAMES) {
      const pruned = (count: number) => this.pruned(name, count);
      this.extend(name, (options) => createBuiltInStore(name, options, { ...context, pruned }));
    }
    const { policies, users } = this.options;
    this.register('cookie', (name, cookieName) => {
      const driver = new CookieDriver(
        name,
        cookieName,
        this.keyring,
        cookies,
        policies,
        this.logger,
        this.events,
      );
      // users.revocationStore: listable and revocable, through a record in that driver's store.
      if (users.revocationStore === undefined) return driver;
      return revocableCookie(driver, this.registry, this.keyring, this.options, this.logger);
    });
    this.configured =
      typeof input === 'object' ? BUILT_IN_STORE_NAMES.filter((name) => input[name] !== undefined) : [];
    this.session = new Session(this.options.driver, this.services);
    this.sessions.set(this.options.driver, this.session);
  }

  /** The current request's session kept by a driver (the default one when no name is given). */
  driver(name: string = this.options.driver): Session {
    currentScope();
    try {
      this.registry.resolve(name);
    } catch (error) {
      // An unknown name is the app's mistake; a driver that cannot be built is down for this request.
      throw error instanceof SessionConfigError ? error : new SessionStoreUnavailableError(name, error);
    }
    let session = this.sessions.get(name);
    if (session === undefined) this.sessions.set(name, (session = new Session(name, this.services)));
    return session;
  }

  /** Registers a custom server-side store under a driver name (usable as `forRoot(name)` too). */
  extend(name: string, factory: SessionStoreFactory): this {
    return this.register(
      name,
      (driverName, cookieName) =>
        new StoreDriver(
          driverName,
          cookieName,
          factory(this.options),
          this.keyring,
          this.options.policies,
          this.logger,
          { max: this.options.users.maxPerUser, onLimit: this.options.users.onLimit },
          this.options.clock,
          this.events,
        ),
    );
  }

  /** The raw store behind a server-side driver, for admin work (`prune()`, `destroy(id)`). */
  store(name: string = this.options.driver): SessionStore {
    const { store } = this.registry.resolve(name);
    if (store === undefined) {
      throw new SessionConfigError(
        'SESSION_NO_STORE',
        `the '${name}' driver keeps sessions in cookies, not in a store`,
      );
    }
    return store;
  }

  /** @internal What SessionRegistry reaches: the default driver and every built one that keeps the user index. */
  registryHost(): RegistryHost {
    return {
      userDrivers: () => {
        const defaultDriver = this.registry.resolve(this.options.driver);
        if (defaultDriver.users === undefined) throw this.usersUnsupported(defaultDriver.name);
        const drivers = new Set([defaultDriver, ...this.registry.built()]);
        return [...drivers].flatMap((d) =>
          d.users === undefined ? [] : [{ name: d.name, users: this.told(d) }],
        );
      },
      handle: this.services.handle,
      policies: this.options.policies,
      events: this.events,
      now: this.options.clock,
    };
  }

  /** A driver's users, whose revocations close the revoked sessions' sockets (realtime/). */
  private told({ name, users }: SessionDriver): DriverUsers {
    const told: DriverUsers = {
      list: (userId) => users!.list(userId),
      revoke: async (userId, id) => {
        const revoked = await users!.revoke(userId, id);
        if (revoked) this.lifecycle.sessionEnded?.(name, id);
        return revoked;
      },
    };
    const revokeAll = users!.revokeAll?.bind(users);
    if (revokeAll !== undefined) {
      // The driver revokes them all at once: the sessions listed before are the ones whose sockets close.
      told.revokeAll = async (userId) => {
        const live = this.lifecycle.sessionEnded === undefined ? [] : await users!.list(userId);
        const count = await revokeAll(userId);
        for (const { id } of live) this.lifecycle.sessionEnded?.(name, id);
        return count;
      };
    }
    return told;
  }

  /** @internal SessionHealthIndicator's probe: the default driver's store answers a read (or rejects). */
  async ping(): Promise<string> {
    const driver = this.registry.resolve(this.options.driver);
    await driver.ping?.();
    return driver.name;
  }

  /** A built-in store's prune dropped `count` expired records: one 'expired' event for them all. */
  private pruned(driver: string, count: number): void {
    if (count === 0 || !this.events.listening) return;
    const time = this.options.clock();
    const common = { driver, handle: undefined, userId: undefined, time };
    this.events.emit({ name: 'expired', ...common, seenBy: 'prune', reason: undefined, count });
  }

  private usersUnsupported(name: string): SessionConfigError {
    return name === 'cookie'
      ? usersUnsupported(
          name,
          "keeps sessions in cookies: name a server-side driver to keep its revocation record, forRoot({ users: { revocationStore: 'redis' } })",
        )
      : usersUnsupported(
          name,
          "cannot list or revoke a user's sessions: its store has no user index (UserIndexedSessionStore's listUser()); use a built-in store, or add the power to yours",
        );
  }

  /** @internal registers a driver that is not a SessionStore (the cookie driver). */
  register(name: string, factory: DriverFactory): this {
    this.registry.register(name, factory);
    return this;
  }

  /**
   * @internal At start-up: builds the default driver and every built-in driver the options
   * configure, so an unknown name or a bad option fails now, not on the first request that uses it.
   */
  async checkDrivers(): Promise<void> {
    const { revocationStore } = this.options.users;
    const names = [this.options.driver, ...this.configured];
    if (revocationStore !== undefined) {
      revocationStoreOf(revocationStore, 'cookie', (name) => this.registry.resolve(name));
      names.push(revocationStore);
    }
    for (const name of new Set(names)) {
      const { store } = this.registry.resolve(name);
      if (store !== undefined && isStartupChecked(store)) await store.checkAtStartup();
    }
    // forRoot({ users }) on a driver that cannot keep the user index: a start-up error, never at call time.
    const defaultDriver = this.registry.resolve(this.options.driver);
    if (this.options.users.configured && defaultDriver.users === undefined) {
      throw this.usersUnsupported(defaultDriver.name);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}
