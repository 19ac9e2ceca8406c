import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { requestScope } from '../core/request-scope.js';

/**
 * Marks the request so its response never clears flash. @KeepFlash() applies it to its routes and
 * resolvers; it is not global, so routes without it pay nothing (flash is cleared at commit, by the
 * final status).
 */
@Injectable()
export class FlashInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const scope = requestScope.getStore();
    const type = context.getType<string>();
    if (scope !== undefined && (type === 'http' || type === 'graphql')) scope.keepsFlash = true;
    return next.handle();
  }
}
