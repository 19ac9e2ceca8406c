import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionLifecycle } from './lifecycle.js';

/** The lifecycle as a Nest middleware, for an HTTP adapter that is neither Express nor Fastify. */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  constructor(private readonly lifecycle: SessionLifecycle) {}

  use(req: IncomingMessage & { secure?: boolean }, res: ServerResponse, next: () => void): void {
    this.lifecycle.handle(req, res, () => req.secure === true, next);
  }
}
