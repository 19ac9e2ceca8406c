import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SESSION_ACCESSOR, type ClientView } from './client-view.js';
import { RequestContext, type SessionLifecycle } from './lifecycle.js';
import { committerOf, installOnPrototype, reserveGateSlot } from './response-gate.js';
import { connectFlash } from './connect-flash.js';

type ExpressRequest = IncomingMessage & { secure: boolean; ip?: string };

/** `req.secure` and `req.ip` honour Express's 'trust proxy'. */
const EXPRESS: ClientView<ExpressRequest> = { secure: (req) => req.secure, ip: (req) => req.ip };

type Handler = (req: any, res: ServerResponse, done: (error?: unknown) => void) => void;

/** What the glue needs of an express app (Express 5: its router, made on first use). */
export interface ExpressApp {
  request: object;
  response: object;
  router: { handle: Handler };
}

/** On a router whose requests the lifecycle runs before: its own `handle`. */
const ROUTER_HANDLE = Symbol('nest-session:router-handle');

/**
 * Express, as soon as the adapter exists (NestFactory.create(), before main.ts can call
 * `app.use()`): the lifecycle runs as the app's router takes the request, after Express has given
 * the request and response its prototypes and before the router's first layer, so every middleware
 * of the app sees the session (passport, csrf-sync, ...), and no router layer of its own is matched
 * and called on every request. The response gate's wrappers, the `req.session` accessor and
 * `req.flash` go on the app's response and request prototypes once, so nothing is added to each
 * request's objects. `req.secure` honours Express's 'trust proxy' for cookie.secure 'auto'.
 */
export function installExpress(app: ExpressApp, lifecycle: SessionLifecycle): void {
  installOnPrototype(app.response);
  defineRequestMembers(app.request);
  const router = app.router as ExpressApp['router'] & { [ROUTER_HANDLE]?: Handler };
  if (router[ROUTER_HANDLE] !== undefined) return;
  const handle = (router[ROUTER_HANDLE] = router.handle);
  router.handle = function (this: unknown, req: ExpressRequest, res: ServerResponse, done) {
    try {
      lifecycle.handle(req, res, req, EXPRESS, () => handle.call(this, req, res, done));
    } catch (error) {
      done(error); // Express's final handler answers it, as it would a throwing middleware's
    }
  };
}

/**
 * Once the HTTP server exists: its first 'request' listener reserves the slot each response's gate
 * goes in (filling a slot is cheaper than adding a property after Express re-prototypes the response).
 */
export function reserveGateSlots(server: unknown): void {
  if (server instanceof EventEmitter && !server.listeners('request').includes(reserveGateSlot))
    server.prependListener('request', reserveGateSlot);
}

/** `req.session` read from the request's context (found through its response's gate), `req.sessionID` and `req.flash`. */
function defineRequestMembers(proto: object): void {
  if (Object.hasOwn(proto, SESSION_ACCESSOR)) return;
  Object.defineProperties(proto, {
    [SESSION_ACCESSOR]: { value: true },
    session: {
      configurable: true,
      get(this: { res?: ServerResponse }) {
        const ctx = this.res === undefined ? undefined : committerOf(this.res);
        return ctx instanceof RequestContext ? ctx.session() : undefined;
      },
      set(this: { res?: ServerResponse }, value: unknown) {
        // cookie-session's sign-out idiom, `req.session = null`, ends the session.
        const ctx = this.res === undefined ? undefined : committerOf(this.res);
        if (value == null && ctx instanceof RequestContext) {
          ctx.state(ctx.defaultDriver).destroy();
          return;
        }
        Object.defineProperty(this, 'session', {
          value,
          writable: true,
          configurable: true,
          enumerable: true,
        });
      },
    },
  });
  if (!('sessionID' in proto)) {
    // express-session's req.sessionID (connect-redis, loggers, csrf-csrf examples read it).
    Object.defineProperty(proto, 'sessionID', {
      configurable: true,
      get(this: { session?: { id?: unknown } }) {
        return this.session?.id;
      },
    });
  }
  if (!('flash' in proto)) {
    Object.defineProperty(proto, 'flash', { value: connectFlash, writable: true, configurable: true });
  }
}
