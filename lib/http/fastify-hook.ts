import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionManager } from '../session-manager.js';

interface FastifyRequest {
  raw: IncomingMessage & { session?: unknown };
  protocol: string;
}
interface FastifyInstance {
  hasRequestDecorator(name: string): boolean;
  decorateRequest(name: string, value: unknown): void;
  addHook(
    name: 'onRequest',
    hook: (req: FastifyRequest, reply: { raw: ServerResponse }, done: () => void) => void,
  ): void;
}

/**
 * On Fastify the request lifecycle runs in an onRequest hook rather than a Nest middleware, which
 * would bring in middie for every request. Registered while Nest configures middleware, it runs
 * before any middleware the app has. request.protocol honours Fastify's trustProxy for
 * cookie.secure 'auto'; request.session is the raw request's session, so Nest's @Session() works.
 */
export function installFastifyHook(fastify: FastifyInstance, manager: SessionManager): void {
  if (!fastify.hasRequestDecorator('session')) {
    fastify.decorateRequest('session', {
      getter(this: FastifyRequest) {
        return this.raw.session;
      },
    });
  }
  fastify.addHook('onRequest', (req, reply, done) => {
    manager.handle(req.raw, reply.raw, () => req.protocol === 'https', done);
  });
}
