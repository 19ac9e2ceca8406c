import type { Logger } from '@nestjs/common';
import { SessionState } from '../core/session-state.js';
import { SessionConfigError, errorMessage } from '../session.errors.js';
import { BUILT_IN_DRIVERS } from '../stores/built-in.js';
import type { SessionDriver } from './session-driver.js';

/** Where DriverRegistry.loadCookies puts the sessions it loads (a request's or a socket's scope). */
export interface LoadSink {
  adopt(name: string, state: SessionState, driver: SessionDriver | undefined): void;
  /** Takes a session to load on first use; without it, every session is loaded at once. */
  defer?(name: string, driver: SessionDriver, cookie: string): void;
}

/** Builds a driver under a name, with the cookie it keeps its session in. */
export type DriverFactory = (name: string, cookieName: string) => SessionDriver;

/**
 * Drivers by name: their factories, each built on first use (a factory that throws is tried again
 * by the next request that needs it and logged once until it builds), the cookie each keeps its
 * session in (the default driver's is `cookie.name`, another's `<cookie.name>_<driver>`), and
 * shutdown.
 */
export class DriverRegistry {
  private readonly factories = new Map<string, DriverFactory>();
  private readonly drivers = new Map<string, SessionDriver>();
  /** Cookie name -> driver name, for every driver a request may bring a cookie for. */
  private readonly cookieNames = new Map<string, string>();
  private readonly unbuilt = new Set<string>();

  constructor(
    private readonly defaultDriver: string,
    private readonly cookieName: string,
    private readonly logger: Logger,
  ) {}

  register(name: string, factory: DriverFactory): void {
    if (this.drivers.has(name)) {
      throw new SessionConfigError(
        'SESSION_DRIVER_IN_USE',
        `the '${name}' driver is already in use; extend() it before the first request`,
      );
    }
    this.factories.set(name, factory);
    this.cookieNames.set(this.cookieNameOf(name), name);
  }

  /** The driver a cookie belongs to, if any. */
  driverOfCookie(cookieName: string): string | undefined {
    return this.cookieNames.get(cookieName);
  }

  /**
   * Loads the session of every cookie a driver keeps its session in, for a request or a socket:
   * each state goes to `sink.adopt` with its driver (undefined when it could not be built), a
   * synchronous load at once, a failed one as a failed state. With `sink.defer`, a driver that loads
   * on first use (`unusedNeedsCommit`) is handed to it with its cookie instead of being loaded.
   * Returns what is left to wait for.
   */
  loadCookies(
    cookies: Readonly<Record<string, string | undefined>>,
    now: number,
    sink: LoadSink,
  ): Promise<void>[] | undefined {
    let loading: Promise<void>[] | undefined;
    for (const cookieName in cookies) {
      const name = this.cookieNames.get(cookieName);
      if (name === undefined) continue;
      let driver: SessionDriver | undefined;
      let loaded: Promise<SessionState> | SessionState;
      try {
        driver = this.resolve(name);
        const cookie = cookies[cookieName];
        if (sink.defer !== undefined && driver.unusedNeedsCommit !== undefined && cookie !== undefined) {
          sink.defer(name, driver, cookie);
          continue;
        }
        loaded = driver.load(cookie, now);
      } catch (error) {
        loaded = SessionState.failed(name, error);
      }
      if (loaded instanceof Promise) {
        const by = driver;
        (loading ??= []).push(
          loaded.then(
            (state) => sink.adopt(name, state, by),
            (error: unknown) => sink.adopt(name, SessionState.failed(name, error), by),
          ),
        );
      } else {
        sink.adopt(name, loaded, driver);
      }
    }
    return loading;
  }

  /** The driver, built on first use. Unknown names are a SessionConfigError. */
  resolve(name: string): SessionDriver {
    const driver = this.drivers.get(name);
    return driver !== undefined ? driver : this.build(name);
  }

  /** The drivers built so far. */
  built(): IterableIterator<SessionDriver> {
    return this.drivers.values();
  }

  /** Closes what the built drivers opened (connections, timers). */
  async close(): Promise<void> {
    for (const driver of this.drivers.values()) await driver.close?.();
  }

  private build(name: string): SessionDriver {
    const factory = this.factories.get(name);
    if (factory === undefined) {
      throw new SessionConfigError(
        'SESSION_DRIVER_UNKNOWN',
        `no session driver named '${name}'; use ${BUILT_IN_DRIVERS.map((d) => `'${d}'`).join(', ')} or register it with SessionManager.extend('${name}', factory)`,
      );
    }
    let driver: SessionDriver;
    try {
      driver = factory(name, this.cookieNameOf(name));
    } catch (error) {
      if (!this.unbuilt.has(name)) {
        this.unbuilt.add(name);
        this.logger.error(`The '${name}' session driver could not be built: ${errorMessage(error)}`);
      }
      throw error;
    }
    this.unbuilt.delete(name);
    this.drivers.set(name, driver);
    return driver;
  }

  private cookieNameOf(driver: string): string {
    return driver === this.defaultDriver ? this.cookieName : `${this.cookieName}_${driver}`;
  }
}
