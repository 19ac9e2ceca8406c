import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientView } from './client-view.js';
import { SessionLifecycle } from './lifecycle.js';

type Request = IncomingMessage & { secure?: boolean; ip?: string };

/** What another adapter's request may say: `secure` and `ip` when it has them (Express-like), else the socket's. */
const OTHER: ClientView<Request> = {
  secure: (req) => req.secure === true,
  ip: (req) => req.ip ?? req.socket?.remoteAddress,
};

/** The lifecycle as a Nest middleware, for an HTTP adapter that is neither Express nor Fastify. */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  constructor(private readonly lifecycle: SessionLifecycle) {}

  use(req: Request, res: ServerResponse, next: () => void): void {
    this.lifecycle.handle(req, res, req, OTHER, next);
  }
}
