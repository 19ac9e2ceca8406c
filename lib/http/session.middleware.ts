import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionManager } from '../session-manager.js';

type Req = IncomingMessage & { secure: boolean; session?: unknown };

/**
 * On Express: loads the sessions before guards run and hooks the response for the commit.
 * req.secure honours Express's 'trust proxy' for cookie.secure 'auto'.
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  constructor(private readonly manager: SessionManager) {}

  use(req: Req, res: ServerResponse, next: () => void): void {
    this.manager.handle(req, res, () => req.secure, next);
  }
}
