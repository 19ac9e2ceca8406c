import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { usableState } from '../core/request-scope.js';

/** The handler's flash message for `key`, or all flash data when no key is given. */
export const Flash = createParamDecorator((key: string | undefined, _context: ExecutionContext) => {
  const state = usableState();
  return key === undefined ? state.flashes() : state.getFlash(key);
});
