import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { currentContext } from '../http/lifecycle.js';

/** The handler's flash message for `key`, or all flash data when no key is given. */
export const Flash = createParamDecorator((key: string | undefined, _context: ExecutionContext) => {
  const ctx = currentContext();
  const state = ctx.state(ctx.defaultDriver);
  if (state.failure) throw state.failure;
  return key === undefined ? state.flashes() : state.getFlash(key);
});
