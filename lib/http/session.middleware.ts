import { Injectable, type NestMiddleware } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SessionManager } from '../session-manager.js';

type Req = IncomingMessage & { secure?: boolean; session?: unknown };

/** Loads the sessions before guards run and hooks the response for the commit (Express and Fastify). */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly trustProxy: boolean;

  constructor(
    private readonly manager: SessionManager,
    adapterHost: HttpAdapterHost,
  ) {
    const instance = adapterHost.httpAdapter?.getInstance?.() as
      { initialConfig?: { trustProxy?: unknown }; get?: (key: string) => unknown } | undefined;
    this.trustProxy = Boolean(instance?.initialConfig?.trustProxy);
  }

  use(req: Req, res: ServerResponse, next: () => void): void {
    this.manager.handle(req, res, this.isSecure(req), next);
  }

  /** Express answers with req.secure (it honours 'trust proxy'); Fastify's raw request with the socket and trustProxy. */
  private isSecure(req: Req): boolean {
    if (typeof req.secure === 'boolean') return req.secure;
    if ((req.socket as TLSSocket).encrypted) return true;
    if (!this.trustProxy) return false;
    const proto = req.headers['x-forwarded-proto'];
    return typeof proto === 'string' && proto.split(',')[0].trim() === 'https';
  }
}
