import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { requestScope } from '../core/request-scope.js';

/**
 * Marks the request so its session is not extended (no touch write, no new last activity) and its
 * flash is kept: a poll must not consume what the user has not seen. @NoTouch() applies it to its
 * routes and resolvers; it is not global, so routes without it pay nothing.
 */
@Injectable()
export class NoTouchInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const scope = requestScope.getStore();
    const type = context.getType<string>();
    if (scope !== undefined && (type === 'http' || type === 'graphql')) {
      scope.noTouch = true;
      scope.keepsFlash = true;
    }
    return next.handle();
  }
}
