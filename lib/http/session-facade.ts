import { HttpStatus } from '@nestjs/common';
import { inspect } from 'node:util';
import { assertJsonValue } from '../core/json-value.js';
import { SessionError, errorMessage } from '../session.errors.js';
import type { SessionState } from '../core/session-state.js';
import type { Session } from '../session.js';
import { FORWARDED, type CookieView, type FacadeHost } from './facade-host.js';

type Callback = (error?: unknown) => void;
type Member = (facade: Facade) => unknown;

/** On a facade's proxy: the request's live `req.session` (the proxy itself unless regenerate(cb) replaced it). */
export const LIVE_SESSION = Symbol('nest-session:live');

/** On a facade's proxy: its target. */
const GENERATION = Symbol('nest-session:generation');

/** What a proxy stands for: the live session, or (`before` set) the one regenerate(cb) replaced. */
class Generation {
  /** The data the session had when regenerate(cb) replaced it. */
  before?: Record<string, unknown>;

  constructor(readonly facade: Facade) {}

  /**
   * console.log(req.session) shows the data, as with express-session: Node inspects a proxy's
   * target, calling this with the proxy as `this`.
   */
  [inspect.custom](this: Record<symbol, Generation | undefined>): unknown {
    const generation = this[GENERATION];
    return generation === undefined ? {} : (generation.before ?? generation.facade.state().all());
  }
}

const later = (callback: unknown, error?: unknown) => {
  if (typeof callback === 'function') process.nextTick(callback as Callback, error);
};

/** Everything on `req.session` that is not a data key. */
const MEMBERS = new Map<string, Member>([
  ['id', (f) => f.state().id],
  ['isNew', (f) => f.state().isNew],
  ['cookie', (f) => f.cookie()],
  ...FORWARDED.map((name): [string, Member] => [
    name,
    (f) => f.method(name, (...args: unknown[]) => (f.session[name] as (...a: unknown[]) => unknown)(...args)),
  ]),
  [
    'regenerate',
    (f) =>
      f.method('regenerate', (arg?: unknown) => {
        const state = f.state();
        if (typeof arg === 'function') {
          // express-session: a new id and an empty session, in a new req.session.
          try {
            f.replace();
          } catch (error) {
            later(arg, error); // a nested change JSON cannot keep: nothing is replaced
            return undefined;
          }
          state.reset(false);
          f.read.clear();
          state.regenerate();
          later(arg);
          return undefined;
        }
        if (Array.isArray(arg)) {
          // @fastify/secure-session's: only the named keys are kept.
          for (const key of state.dataKeys()) if (!arg.includes(key)) state.delete(key);
          f.read.clear();
          state.regenerate();
          return Promise.resolve();
        }
        state.regenerate();
        return f.proxy;
      }),
  ],
  [
    'destroy',
    (f) =>
      f.method('destroy', (callback?: unknown) => {
        f.state().destroy();
        f.read.clear();
        later(callback);
      }),
  ],
  [
    'save',
    (f) =>
      f.method('save', (callback?: unknown) => {
        try {
          f.sync();
          later(callback);
        } catch (error) {
          // As express-session hands a failed save to its callback; the commit refuses it anyway.
          later(callback, error);
        }
      }),
  ],
  ['reload', (f) => f.method('reload', (callback?: unknown) => later(callback))],
  ['touch', (f) => f.method('touch', () => f.proxy)],
  ['toJSON', (f) => f.method('toJSON', () => f.state().all())],
]);

/**
 * What `req.session` is: the request's default-driver session with nest-session's methods and
 * express-session's language, so passport, csrf-sync, connect-flash users and the NestJS docs'
 * `@Session()` examples work unchanged:
 * - data as properties: `req.session.userId = 1`, `delete req.session.userId`, and nested changes
 *   (`req.session.cart.items.push(x)`), kept by comparing at commit what was read with what is there;
 * - `id`, `cookie`, and the callback methods `regenerate(cb)` (new id, empty session), `destroy(cb)`,
 *   `save(cb)`, `reload(cb)`, `touch()`; callbacks are always called, asynchronously;
 * - `regenerate(keys)` (what @fastify/passport calls) keeps only those keys; `regenerate()` keeps
 *   the data, as `Session.regenerate()`.
 * A data key with a method's name is reached through `get(key)` / `set(key, value)`. Every facade
 * belongs to one request: nothing reachable from it is shared between requests.
 *
 * `regenerate(cb)` replaces `req.session`, as express-session does: a reference kept from before
 * (passport's `prevSession`, merged back with `keepSessionInfo`) still reads the data it had; what
 * is written through it goes to the new session too, so nothing written is lost.
 *
 * Made for every request on Fastify (the raw request gets `req.session` as it arrives), so it
 * allocates only itself, its first generation and the proxy; the rest comes when first used.
 */
export class Facade {
  /** `req.session`. */
  proxy: Record<string, any>;
  private live: Generation;
  private reads: Map<string, string> | undefined;
  private methods: Map<string, unknown> | undefined;
  private bound: Session | undefined;

  constructor(private readonly host: FacadeHost) {
    this.live = new Generation(this);
    this.proxy = new Proxy(this.live, HANDLER) as unknown as Record<string, any>;
  }

  /** Keys whose object value was read: the JSON it had then, compared at commit. */
  get read(): Map<string, string> {
    return (this.reads ??= new Map());
  }

  /** A key written or deleted as a whole: nothing read of it is left to compare. */
  forget(key: string): void {
    this.reads?.delete(key);
  }

  get session(): Session {
    return (this.bound ??= this.host.defaultSession());
  }

  state(): SessionState {
    return this.host.defaultState();
  }

  /** regenerate(cb): the proxy handed out so far keeps (a copy of) the data it had; req.session is a new one. */
  replace(): void {
    this.sync();
    this.live.before = JSON.parse(JSON.stringify(this.state().all())) as Record<string, unknown>;
    this.live = new Generation(this);
    this.proxy = new Proxy(this.live, HANDLER) as unknown as Record<string, any>;
  }

  method(name: string, fn: (...args: any[]) => unknown): unknown {
    const methods = (this.methods ??= new Map());
    let bound = methods.get(name);
    if (bound === undefined) methods.set(name, (bound = fn));
    return bound;
  }

  cookie(): CookieView {
    return this.host.cookieView();
  }

  /**
   * Keeps the nested changes made to values read through the facade. Each value read is checked as
   * set() checks a value: one that JSON cannot keep as it is now throws a TypeError naming its key,
   * so a nested change is never silently altered (a Map stored as {}, NaN as null) or dropped.
   */
  sync(): void {
    if (this.reads === undefined || this.reads.size === 0) return;
    let state: SessionState;
    try {
      state = this.state();
    } catch {
      return; // a session that failed to load has nothing to keep
    }
    for (const [key, json] of this.reads) {
      if (!state.hasData(key)) continue;
      const value = state.getData(key);
      assertJsonValue(key, value);
      const now = JSON.stringify(value);
      if (now === json) continue;
      state.set(key, JSON.parse(now));
      this.reads.set(key, now);
    }
  }

  /**
   * sync() for the commit: a value JSON cannot keep becomes the response's error, a 500
   * SESSION_VALUE_INVALID naming the key, and nothing of the request is kept.
   */
  syncForCommit(): SessionError | undefined {
    try {
      this.sync();
      return undefined;
    } catch (error) {
      return new SessionError(
        'SESSION_VALUE_INVALID',
        `a value changed through req.session cannot be kept: ${errorMessage(error)}; nothing of this request was kept`,
        HttpStatus.INTERNAL_SERVER_ERROR,
        error,
      );
    }
  }
}

const HANDLER: ProxyHandler<Generation> = {
  get(generation, prop) {
    const { facade: f, before } = generation;
    if (typeof prop === 'symbol') {
      if (prop === LIVE_SESSION) return f.proxy;
      if (prop === GENERATION) return generation;
      return prop === Symbol.toStringTag ? 'Session' : undefined;
    }
    const member = MEMBERS.get(prop);
    if (member !== undefined) return member(f);
    if (before !== undefined) return Object.hasOwn(before, prop) ? before[prop] : undefined;
    const value = f.state().getData(prop);
    if (typeof value === 'object' && value !== null && !f.read.has(prop)) {
      f.read.set(prop, JSON.stringify(value));
    }
    return value;
  },
  set({ facade: f, before }, prop, value) {
    if (typeof prop === 'symbol') return false;
    if (MEMBERS.has(prop)) {
      throw new TypeError(
        `req.session.${prop} is part of the session's API; keep a value under that key with req.session.set('${prop}', value)`,
      );
    }
    const state = f.state();
    if (value === undefined) state.delete(prop);
    else state.set(prop, value);
    f.forget(prop);
    if (before !== undefined) {
      if (value === undefined) delete before[prop];
      else before[prop] = value;
    }
    return true;
  },
  deleteProperty({ facade: f, before }, prop) {
    if (typeof prop === 'symbol' || MEMBERS.has(prop)) return false;
    f.state().delete(prop);
    f.forget(prop);
    if (before !== undefined) delete before[prop];
    return true;
  },
  has({ facade: f, before }, prop) {
    if (typeof prop !== 'string') return prop === LIVE_SESSION;
    if (MEMBERS.has(prop)) return true;
    return before !== undefined ? Object.hasOwn(before, prop) : f.state().hasData(prop);
  },
  ownKeys({ facade: f, before }) {
    return before !== undefined ? Object.keys(before) : f.state().dataKeys();
  },
  getOwnPropertyDescriptor({ facade: f, before }, prop) {
    if (typeof prop === 'symbol' || MEMBERS.has(prop)) return undefined;
    if (before !== undefined) {
      return Object.hasOwn(before, prop)
        ? { value: before[prop], writable: true, enumerable: true, configurable: true }
        : undefined;
    }
    const state = f.state();
    if (!state.hasData(prop)) return undefined;
    return { value: state.getData(prop), writable: true, enumerable: true, configurable: true };
  },
  defineProperty() {
    return false;
  },
  getPrototypeOf() {
    return Object.prototype;
  },
};
