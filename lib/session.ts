import type { SessionUser } from './core/change-set.js';
import type { Policies } from './core/policies.js';
import { currentScope, usableState, type RequestScope } from './core/request-scope.js';
import type { SessionState } from './core/session-state.js';
import { SessionConfigError } from './session.errors.js';
import { deviceOf } from './users/device.js';
import type { ResolvedUsersOptions } from './users/users.options.js';

/**
 * Augment it to type your keys:
 * `declare module 'nest-session' { interface SessionData { userId: number } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SessionData {}

type Value<K extends string> = K extends keyof SessionData ? SessionData[K] : unknown;

/** @internal What a Session needs besides the request's state (made once, by SessionManager). */
export interface SessionServices {
  readonly policies: Policies;
  readonly users: ResolvedUsersOptions;
  /** The public handle of a session id. */
  handle(id: string): string;
}

/** `session.signIn(userId, options)`. */
export interface SignInOptions {
  /** The policy the session follows from now on (`forRoot({ policies })`), e.g. 'remember'. */
  policy?: string;
  /** What the user calls this device, shown by `SessionRegistry.list()` (200 characters at most). */
  label?: string;
}

/** The time a session has left, in ms, read without extending it. */
export interface SessionTimeLeft {
  /** Until it ends for want of a request (its policy's idleTimeout after its last activity). */
  idle: number;
  /** Until its lifetime ends, whatever the activity. */
  absolute: number;
}

/**
 * The current request's session. Inject it anywhere (it is a singleton view over the request being
 * handled, so it does not make its consumers request-scoped); `req.session` is the same API.
 * Every method is synchronous: the session is loaded before guards run and committed as the
 * response goes out.
 */
export class Session {
  /** @internal */
  constructor(
    private readonly driverName: string,
    private readonly services: SessionServices,
    private readonly bound?: RequestScope,
  ) {}

  private get state(): SessionState {
    return usableState(this.driverName, this.bound);
  }

  /** The session id (the new one after regenerate()). */
  get id(): string {
    return this.state.id;
  }

  /** True when this request started the session (no valid cookie, or it had expired). */
  get isNew(): boolean {
    return this.state.isNew;
  }

  /** Session data, then flash data, as Masonite; `defaultValue` when neither has the key. */
  get<K extends string>(key: K): Value<K> | undefined;
  get<K extends string>(key: K, defaultValue: Value<K>): Value<K>;
  get(key: string, defaultValue?: unknown): unknown {
    const state = this.state;
    return state.has(key) ? state.get(key) : defaultValue;
  }

  /** Whether session data or flash data has the key (falsy values count). */
  has(key: string): boolean {
    return this.state.has(key);
  }

  /** Keeps a value until it is deleted or the session ends; it must survive JSON (else a TypeError). `undefined` deletes the key. */
  set<K extends string>(key: K, value: Value<K> | undefined): this {
    if (value === undefined) this.state.delete(key);
    else this.state.set(key, value);
    return this;
  }

  /** Session data only (not flash). */
  all(): Partial<SessionData> & Record<string, unknown> {
    return this.state.all();
  }

  /** Removes a key; true when it was there. */
  delete(key: string): boolean {
    return this.state.delete(key);
  }

  /** get() then delete(). */
  pull<K extends string>(key: K): Value<K> | undefined {
    const state = this.state;
    const value = state.get(key);
    state.delete(key);
    return value as Value<K> | undefined;
  }

  /** Visible in this request and the next ones until a response whose final status is 2xx. */
  flash(key: string, value: unknown): this {
    this.state.flash(key, value);
    return this;
  }

  getFlash<T = unknown>(key: string): T | undefined {
    return this.state.getFlash(key) as T | undefined;
  }

  /** Flash data only. */
  flashes(): Record<string, unknown> {
    return this.state.flashes();
  }

  /**
   * Appends a message to a level's list (Prologue's `flash(msg, level)`, connect-flash's
   * `req.flash(type, msg)`): kept, in this request too, until pullFlash() reads it.
   */
  pushFlash(level: string, message: unknown): number {
    return this.state.pushFlash(level, [message]);
  }

  /** A level's messages (`[]` when none), removed as they are read; with no level, every level's. */
  pullFlash(level: string): unknown[];
  pullFlash(): Record<string, unknown[]>;
  pullFlash(level?: string): unknown[] | Record<string, unknown[]> {
    return level === undefined ? this.state.pullFlash() : this.state.pullFlash(level);
  }

  /** Keeps all flash this request saw past one more successful response. */
  reflash(): this {
    this.state.keep([]);
    return this;
  }

  /** Keeps these flash keys (all when none are named) past one more successful response. */
  keep(...keys: string[]): this {
    this.state.keep(keys);
    return this;
  }

  /** Clears session data and flash data; `{ flashOnly: true }` clears flash data only. */
  reset(options: { flashOnly?: boolean } = {}): this {
    this.state.reset(options.flashOnly === true);
    return this;
  }

  /** A new id, data kept, the old record deleted at commit: call it on login (no fixation). */
  regenerate(): this {
    this.state.regenerate();
    return this;
  }

  /** Deletes the record and clears the cookie at commit. */
  destroy(): void {
    this.state.destroy();
  }

  /**
   * Signs the user in, in one commit: a new id (no fixation), the data kept, the old id retired, the
   * session bound to the user with the device data `users.device` keeps, and the policy when given.
   * `userId` is a non-empty string (a number is converted).
   */
  signIn(userId: string | number, options: SignInOptions = {}): this {
    const id = typeof userId === 'number' && Number.isFinite(userId) ? String(userId) : userId;
    if (typeof id !== 'string' || id === '' || id.length > 256) {
      throw new TypeError(
        'signIn(userId): userId must be a non-empty string (or a finite number) of at most 256 characters',
      );
    }
    const { policy, label } = options;
    if (label !== undefined && (typeof label !== 'string' || label.length > 200)) {
      throw new TypeError('signIn(userId, { label }): label must be a string of at most 200 characters');
    }
    const scope = this.scope;
    const state = usableState(this.driverName, scope);
    const user: SessionUser = {
      id,
      signedInAt: scope.now,
      ...deviceOf(scope.device(), this.services.users.device),
    };
    if (label !== undefined) user.label = label;
    state.signIn(user, policy === undefined ? undefined : this.knownPolicy(policy));
    return this;
  }

  /** Signs the user out: the session is destroyed (its id retired, its cookie cleared) and unbound. */
  signOut(): void {
    this.state.destroy();
  }

  /** The user the session is bound to (signIn()), or undefined. */
  get userId(): string | undefined {
    return this.state.user?.id;
  }

  /**
   * The session's public handle: what `SessionRegistry.list()` names it by and `revoke()` takes. It is
   * not a credential (the id cannot be found from it) and changes with the id (regenerate, signIn).
   */
  get handle(): string {
    return this.services.handle(this.state.id);
  }

  /** The policy the session follows (`forRoot({ policies })`); undefined: the default one. */
  get policy(): string | undefined {
    return this.state.policy;
  }

  /** Follows a named policy from now on (undefined: the default one); its cookie gets the new expiry. */
  usePolicy(name: string | undefined): this {
    this.state.usePolicy(name === undefined ? undefined : this.knownPolicy(name));
    return this;
  }

  /** The time the session has left, without extending it (an idle-warning poll uses it with @NoTouch()). */
  timeLeft(): SessionTimeLeft {
    const scope = this.scope;
    const state = usableState(this.driverName, scope);
    const policy = this.services.policies.of(state.policy);
    const now = scope.now;
    return {
      idle: Math.max(0, (state.lastActivity ?? now) + policy.idleTimeout - now),
      absolute: Math.max(0, (state.createdAt ?? now) + policy.lifetime - now),
    };
  }

  private get scope(): RequestScope {
    return this.bound ?? currentScope();
  }

  private knownPolicy(name: string): string {
    if (this.services.policies.has(name)) return name;
    const known = this.services.policies.names();
    throw new SessionConfigError(
      'SESSION_POLICY_UNKNOWN',
      `no session policy named '${String(name)}'; ${known.length > 0 ? `the policies are ${known.map((n) => `'${n}'`).join(', ')}` : 'add it to SessionModule.forRoot({ policies })'}`,
    );
  }
}
