import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionManager } from '../session-manager.js';

type Req = IncomingMessage & { secure: boolean; session?: unknown };
type Handler = (req: Req, res: ServerResponse, next: () => void) => void;

/**
 * On Express: loads the sessions before guards run and hooks the response for the commit.
 * req.secure honours Express's 'trust proxy' for cookie.secure 'auto'. Added to the express app
 * itself (a Nest middleware wraps each call in an async proxy, a promise per request).
 */
export function expressSessionHandler(manager: SessionManager): Handler {
  return (req, res, next) => manager.handle(req, res, () => req.secure, next);
}

/** The same as a Nest middleware, for an HTTP adapter that is neither Express nor Fastify. */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly handler: Handler;

  constructor(manager: SessionManager) {
    this.handler = expressSessionHandler(manager);
  }

  use(req: Req, res: ServerResponse, next: () => void): void {
    this.handler(req, res, next);
  }
}
