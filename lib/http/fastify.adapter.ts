import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionLifecycle } from './lifecycle.js';

interface FastifyRequest {
  raw: IncomingMessage & { session?: unknown };
  protocol: string;
}

/** What the glue needs of a Fastify instance. */
export interface FastifyInstance {
  hasRequestDecorator(name: string): boolean;
  decorateRequest(name: string, value: unknown): void;
  addHook(
    name: 'onRequest',
    hook: (req: FastifyRequest, reply: { raw: ServerResponse }, done: () => void) => void,
  ): void;
}

/**
 * Fastify: the lifecycle runs in an onRequest hook (a Nest middleware would bring in middie for every
 * request). Onrequest hooks run in the order they were added, and Nest adds middie's when the app
 * initializes, so whether Nest middleware sees the session depends on when this runs (the module
 * decides; a test pins it). `request.session` is the raw request's session, so Nest's `@Session()`
 * works; `request.protocol` honours Fastify's trustProxy for cookie.secure 'auto'.
 */
export function installFastify(fastify: FastifyInstance, lifecycle: SessionLifecycle): void {
  if (!fastify.hasRequestDecorator('session')) {
    fastify.decorateRequest('session', {
      getter(this: FastifyRequest) {
        return this.raw.session;
      },
    });
  }
  fastify.addHook('onRequest', (req, reply, done) => {
    lifecycle.handle(req.raw, reply.raw, () => req.protocol === 'https', done);
  });
}
