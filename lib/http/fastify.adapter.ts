import type { IncomingMessage, ServerResponse } from 'node:http';
import { connectFlash } from './connect-flash.js';
import type { ClientView } from './client-view.js';
import type { SessionLifecycle } from './lifecycle.js';
import { LIVE_SESSION } from './session-facade.js';

interface FastifyRequest {
  raw: IncomingMessage & { session?: unknown; flash?: unknown };
  protocol: string;
  ip: string;
}

/** `request.protocol` and `request.ip` honour Fastify's trustProxy. */
const FASTIFY: ClientView<FastifyRequest> = {
  secure: (req) => req.protocol === 'https',
  ip: (req) => req.ip,
};
type Hook = (req: FastifyRequest, reply: { raw: ServerResponse }, done: (error?: Error) => void) => void;

/** What the glue needs of a Fastify instance and of Nest's FastifyAdapter. */
export interface FastifyInstance {
  hasRequestDecorator(name: string): boolean;
  decorateRequest(name: string, value: unknown): void;
  register(plugin: (instance: FastifyInstance, options: unknown, done: () => void) => void): unknown;
}
export interface FastifyAdapterLike {
  getInstance<T>(): T;
  setOnRequestHook(hook: Hook): void;
  /** The hook set before ours, if any (Nest's adapter keeps one). */
  onRequestHook?: Hook;
}

/**
 * Fastify, as soon as the adapter exists (NestFactory.create()): the lifecycle runs in the request
 * hook Nest's adapter runs before middie, so Nest middleware and middleware added with `app.use()`
 * see the session, as do Fastify plugins; a hook set there before is kept and runs after ours. The
 * `session` request decorator is declared now, so plugins that depend on it (@fastify/passport)
 * register the usual way after NestFactory.create(). The raw request, which middleware get, has
 * `req.session` and connect-flash's `req.flash`. `request.session` is the raw request's, so
 * Nest's `@Session()` works (the live one after regenerate(cb)); `request.sessionID` is its id; `request.protocol` honours Fastify's trustProxy for cookie.secure 'auto'.
 */
export function installFastify(adapter: FastifyAdapterLike, lifecycle: SessionLifecycle): void {
  const fastify = adapter.getInstance<FastifyInstance>();
  if (!fastify.hasRequestDecorator('session')) {
    fastify.decorateRequest('session', {
      getter(this: FastifyRequest) {
        // The raw request got req.session as the request arrived; regenerate(cb) may have replaced it since.
        const session = this.raw.session as { [LIVE_SESSION]?: unknown } | undefined;
        return typeof session === 'object' && session !== null ? (session[LIVE_SESSION] ?? session) : session;
      },
      setter(this: FastifyRequest, value: unknown) {
        // cookie-session's sign-out idiom, `request.session = null`, ends the session.
        const session = this.raw.session as { destroy?: () => void } | undefined;
        if (value == null) session?.destroy?.();
        else this.raw.session = value;
      },
    });
  }
  if (!fastify.hasRequestDecorator('sessionID')) {
    fastify.decorateRequest('sessionID', {
      getter(this: { session?: { id?: unknown } }) {
        return this.session?.id;
      },
    });
  }
  const previous = adapter.onRequestHook;
  adapter.setOnRequestHook(function (this: unknown, req, reply, done) {
    // Middleware under middie get the raw request: req.flash there too (so connect-flash steps aside).
    req.raw.flash = connectFlash;
    lifecycle.handle(
      req.raw,
      reply.raw,
      req,
      FASTIFY,
      previous === undefined ? done : () => previous.call(this, req, reply, done),
    );
  });
}

/**
 * At app.init(), after the plugins main.ts registered: `request.flash` (connect-flash's API) unless
 * a plugin declared one (@fastify/flash, which @fastify/passport registers, works on this session).
 */
export function installFastifyFlash(adapter: FastifyAdapterLike): void {
  const plugin = (instance: FastifyInstance, _options: unknown, done: () => void) => {
    if (!instance.hasRequestDecorator('flash')) {
      instance.decorateRequest('flash', function (this: FastifyRequest, ...args: [string?, ...unknown[]]) {
        return connectFlash.apply(this.raw as never, args);
      });
    }
    done();
  };
  // Like fastify-plugin: on the root context, not an encapsulated one.
  Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'nest-session-flash',
  });
  adapter.getInstance<FastifyInstance>().register(plugin);
}
