import { UseInterceptors } from '@nestjs/common';
import { FlashInterceptor } from './flash.interceptor.js';

/** This route (or every route of this controller) never clears flash: polling endpoints, health checks. */
export const KeepFlash = (): MethodDecorator & ClassDecorator => UseInterceptors(FlashInterceptor);
