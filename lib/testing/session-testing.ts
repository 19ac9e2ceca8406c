import type { INestApplicationContext } from '@nestjs/common';
import { parseCookie, stringifyCookie } from 'cookie';
import { expiresAt } from '../core/expiry.js';
import type { SessionState } from '../core/session-state.js';
import type { SessionDriver } from '../drivers/session-driver.js';
import { SessionManager } from '../session-manager.js';
import { Session } from '../session.js';
import { sightCookie, type SessionSource } from './cookie-source.js';
import {
  expectations,
  type Inspection,
  type SessionExpectations,
  type SessionSnapshot,
} from './expectations.js';
import { refuseInProduction } from './production.js';
import { testClock, type TestClock } from './test-clock.js';
import { TestScope, type TestDevice } from './test-scope.js';

/** What `mint()` puts in the session. */
export interface MintOptions {
  /** Signs the session in as this user, as `session.signIn(userId)` does: bound, listed by SessionRegistry. */
  userId?: string | number;
  /** The policy it follows (`forRoot({ policies })`), e.g. 'remember'. */
  policy?: string;
  /** Session data. */
  data?: Record<string, unknown>;
  /** Flash the first request with the cookie will see. */
  flash?: Record<string, unknown>;
  /** The device it was signed in from, as `SessionRegistry.list()` shows it (kept as `users.device` says). */
  device?: TestDevice & { label?: string };
  /** The driver that keeps it. Default: the app's default driver. */
  driver?: string;
}

/** `runInSession()`: the session to run in, minted from these options or continued from a cookie. */
export interface RunInSessionOptions extends Omit<MintOptions, 'driver'> {
  /** A Cookie header value (from `mint()` or an earlier run): its sessions are loaded instead. */
  cookie?: string;
}

/** What `runInSession()` resolves to. */
export interface InSession<T> {
  /** What the function returned (awaited). */
  result: T;
  /** The Cookie header value of the sessions afterwards, for the next request or `read()`; undefined when none is left. */
  cookie: string | undefined;
}

/** Anything Nest resolves providers from: an `INestApplication` (Express or Fastify) or a `TestingModule`. */
export type NestContext = Pick<INestApplicationContext, 'get'>;

/**
 * nest-session's testing kit, for the app's own driver, secret and cookie name: mint a session a
 * test starts with (signed in, with data and flash), read back the one a response left, assert on it,
 * run a service in a session without HTTP, and a clock to move time on. It forges sessions with the
 * app's secret, so it refuses to run where NODE_ENV is 'production'.
 */
export class SessionTesting {
  private constructor(private readonly manager: SessionManager) {}

  /** The kit for an app (Express or Fastify) or a testing module that imports `SessionModule.forRoot()`. */
  static for(app: NestContext): SessionTesting {
    return new SessionTesting(app.get(SessionManager, { strict: false }));
  }

  /** A clock to give the module (`forRoot({ clock })`), which moves only with `advance(ms)`. */
  static clock(start?: number | Date): TestClock {
    return testClock(start);
  }

  /**
   * Runs `fn` in a session of its own, without HTTP, as a request would: the injected `Session` (and
   * `SessionManager.driver()`) is that session in `fn` and in everything it calls. The session is
   * minted from the options (or loaded from `options.cookie`), and what `fn` changed is committed to
   * the driver when it settles; flash `fn` read is consumed, flash it set is kept for the next request.
   */
  static async runInSession<T>(
    moduleRef: NestContext,
    options: RunInSessionOptions,
    fn: (session: Session) => T | Promise<T>,
  ): Promise<InSession<T>> {
    refuseInProduction('runs services in forged sessions');
    return SessionTesting.for(moduleRef).run(options, fn);
  }

  /**
   * A session stored (or, on the cookie driver, sealed) as the app would keep it after a request that
   * set it up, and the Cookie header value that brings it: `request(server).get('/').set('Cookie', cookie)`.
   */
  async mint(options: MintOptions = {}): Promise<string> {
    refuseInProduction('mints sessions');
    const { driver: name = this.options.driver, userId, policy, data, flash, device = {} } = options;
    const driver = this.driver(name);
    const scope = this.scope(device);
    const session = new Session(name, this.manager.services, scope);
    for (const [key, value] of Object.entries(data ?? {})) session.set(key, value);
    for (const [key, value] of Object.entries(flash ?? {})) session.flash(key, value);
    if (userId !== undefined) session.signIn(userId, { policy, label: device.label });
    else if (policy !== undefined) session.usePolicy(policy);
    const value = (
      await scope.commit(
        (n) => this.driver(n),
        false,
        () => false,
      )
    ).get(driver.cookieName);
    if (value === undefined) {
      throw new TypeError(
        'SessionTesting.mint(): an empty session is never kept, so no cookie brings it: give userId, data or flash',
      );
    }
    return stringifyCookie({ [driver.cookieName]: value });
  }

  /**
   * The session a response leaves the client with (the cookie it set, else the one its request sent),
   * or the one a Set-Cookie or Cookie header value brings; undefined when there is none (no cookie, a
   * cleared one, or one that loads no session: expired, destroyed, revoked, forged).
   */
  async read(source: SessionSource, options: { driver?: string } = {}): Promise<SessionSnapshot | undefined> {
    refuseInProduction('reads sessions');
    return (await this.inspect(source, options.driver)).snapshot;
  }

  /** Assertions on the session `read(source)` gives: `await sessions.expect(res).toBeSignedInAs('u1')`. */
  expect(source: SessionSource, options: { driver?: string } = {}): SessionExpectations {
    refuseInProduction('reads sessions');
    return expectations(() => this.inspect(source, options.driver));
  }

  private get options() {
    return this.manager.options;
  }

  private driver(name: string): SessionDriver {
    return this.manager.lifecycle.driver(name);
  }

  private scope(device: TestDevice): TestScope {
    const now = this.options.clock();
    return new TestScope(this.options.driver, now, device, this.options.cookie.secure === true);
  }

  private async inspect(source: SessionSource, name = this.options.driver): Promise<Inspection> {
    const driver = this.driver(name);
    const now = this.options.clock();
    const { value, cleared } = sightCookie(source, driver.cookieName, now);
    const found = { cookieName: driver.cookieName, seen: cleared || value !== undefined, cleared };
    if (value === undefined) return { ...found, snapshot: undefined };
    const state = await driver.load(value, now);
    if (state.failure !== undefined) throw state.failure;
    return { ...found, snapshot: state.isNew ? undefined : this.snapshot(state) };
  }

  private snapshot(state: SessionState): SessionSnapshot {
    const policy = this.options.policies.of(state.policy);
    const createdAt = state.createdAt!;
    return {
      handle: this.manager.services.handle(state.id),
      userId: state.user?.id,
      data: state.all(),
      flash: state.flashes(),
      expiresAt: new Date(expiresAt(policy, createdAt, state.lastActivity ?? createdAt)),
      policy: state.policy,
    };
  }

  private async run<T>(
    options: RunInSessionOptions,
    fn: (session: Session) => T | Promise<T>,
  ): Promise<InSession<T>> {
    const { cookie, ...mint } = options;
    const { userId, policy, data, flash } = mint;
    const given = cookie ?? (isEmpty({ userId, policy, data, flash }) ? undefined : await this.mint(mint));
    const jar = given === undefined ? {} : parseCookie(given);
    const scope = this.scope(options.device ?? {});
    // Every driver whose cookie came is loaded, as a request loads them.
    for (const [cookieName, value] of Object.entries(jar)) {
      const driver = this.driverOfCookie(cookieName);
      if (driver !== undefined && value !== undefined)
        scope.states.set(driver.name, await driver.load(value, scope.now));
    }
    let outcome: { result: T } | { error: unknown };
    try {
      outcome = { result: await scope.run(() => fn(this.manager.session)) };
    } catch (error) {
      outcome = { error };
    }
    // Committed either way, as a response is: one that failed consumes no flash.
    const changed = await scope.commit(
      (n) => this.driver(n),
      'result' in outcome ? 'read' : false,
      (cookieName) => jar[cookieName] !== undefined,
    );
    if ('error' in outcome) throw outcome.error;
    for (const [cookieName, value] of changed) jar[cookieName] = value;
    const left = Object.fromEntries(Object.entries(jar).filter(([, value]) => value !== undefined));
    return { result: outcome.result, cookie: isEmpty(left) ? undefined : stringifyCookie(left) };
  }

  /** The driver a cookie of the app belongs to: the default one's, or `<cookie.name>_<driver>`. */
  private driverOfCookie(cookieName: string): SessionDriver | undefined {
    const base = this.options.cookie.name;
    const name =
      cookieName === base
        ? this.options.driver
        : cookieName.startsWith(`${base}_`)
          ? cookieName.slice(base.length + 1)
          : undefined;
    if (name === undefined) return undefined;
    try {
      const driver = this.driver(name);
      return driver.cookieName === cookieName ? driver : undefined;
    } catch {
      return undefined;
    }
  }
}

function isEmpty(object: object): boolean {
  return Object.values(object).every((value) => value === undefined);
}
