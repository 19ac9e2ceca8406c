import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestContext, SESSION_ACCESSOR, type SessionLifecycle } from './lifecycle.js';
import { committerOf, installOnPrototype, reserveGateSlot } from './response-gate.js';

/** What the glue needs of an express app. */
export interface ExpressApp {
  request: object;
  response: object;
  use(handler: (req: any, res: ServerResponse, next: () => void) => void): unknown;
}

/**
 * Express: the lifecycle runs in a handler added to the express app itself (a Nest middleware would
 * wrap each call in an async proxy, a promise per request). The response gate's wrappers and the
 * `req.session` accessor go on the app's response and request prototypes once, so nothing is added
 * to each request's objects; the gate goes into a slot the server's first 'request' listener
 * reserves. `req.secure` honours Express's 'trust proxy' for cookie.secure 'auto'.
 */
export function installExpress(app: ExpressApp, server: unknown, lifecycle: SessionLifecycle): void {
  installOnPrototype(app.response);
  if (server instanceof EventEmitter && !server.listeners('request').includes(reserveGateSlot))
    server.prependListener('request', reserveGateSlot);
  defineSessionAccessor(app.request);
  app.use((req: IncomingMessage & { secure: boolean }, res: ServerResponse, next: () => void) =>
    lifecycle.handle(req, res, () => req.secure, next),
  );
}

/** `req.session` read from the request's context (found through its response's gate); assignable. */
function defineSessionAccessor(proto: object): void {
  if (Object.hasOwn(proto, SESSION_ACCESSOR)) return;
  Object.defineProperties(proto, {
    [SESSION_ACCESSOR]: { value: true },
    session: {
      configurable: true,
      get(this: { res?: ServerResponse }) {
        const ctx = this.res === undefined ? undefined : committerOf(this.res);
        return ctx instanceof RequestContext ? ctx.session() : undefined;
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
