import { usableState, type RequestScope } from './core/request-scope.js';
import type { SessionState } from './core/session-state.js';

/**
 * Augment it to type your keys:
 * `declare module 'nest-session' { interface SessionData { userId: number } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SessionData {}

type Value<K extends string> = K extends keyof SessionData ? SessionData[K] : unknown;

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
}
