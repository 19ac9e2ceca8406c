import { SetMetadata } from '@nestjs/common';
import { KEEP_FLASH_METADATA } from '../session.internal-constants.js';

/** This route (or every route of this controller) never clears flash: polling endpoints, health checks. */
export const KeepFlash = (): MethodDecorator & ClassDecorator => SetMetadata(KEEP_FLASH_METADATA, true);
