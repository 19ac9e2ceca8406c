import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SessionManager } from '../session-manager.js';
import { FASTIFY_HTTPS } from '../session.internal-constants.js';

type Req = IncomingMessage & { secure?: boolean; session?: unknown; [FASTIFY_HTTPS]?: boolean };

/** Loads the sessions before guards run and hooks the response for the commit (Express and Fastify). */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  constructor(private readonly manager: SessionManager) {}

  use(req: Req, res: ServerResponse, next: () => void): void {
    this.manager.handle(req, res, () => isSecure(req), next);
  }
}

/**
 * Asked only when a cookie is written. Express answers with req.secure (it honours 'trust proxy');
 * on Fastify, SessionModule records request.protocol (which honours trustProxy) on the raw request.
 */
function isSecure(req: Req): boolean {
  if (typeof req.secure === 'boolean') return req.secure;
  const seen = req[FASTIFY_HTTPS];
  if (typeof seen === 'boolean') return seen;
  return (req.socket as TLSSocket).encrypted === true;
}
