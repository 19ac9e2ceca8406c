import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { map, type Observable } from 'rxjs';
import { requestContext } from '../request-context.js';
import { KEEP_FLASH_METADATA } from '../session.internal-constants.js';

/**
 * Registered globally by SessionModule. It marks the requests that reach a route handler, so the
 * commit clears the flash they saw when the final status is 2xx (a static file or a 404 never
 * does), except on routes marked @KeepFlash(). When a driver with a preflight is in use (the cookie
 * driver's size check), it runs it once the handler returned, so a failure is a response Nest sends.
 */
@Injectable()
export class FlashInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ctx = requestContext.getStore();
    if (ctx !== undefined && context.getType() === 'http') {
      ctx.clearsFlash = !this.reflector.getAllAndOverride<boolean>(KEEP_FLASH_METADATA, [
        context.getHandler(),
        context.getClass(),
      ]);
    }
    if (ctx?.preflights === undefined) return next.handle();
    return next.handle().pipe(
      map((value) => {
        ctx.preflight();
        return value;
      }),
    );
  }
}
