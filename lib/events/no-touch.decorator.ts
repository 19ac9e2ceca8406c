import { UseInterceptors } from '@nestjs/common';
import { NoTouchInterceptor } from './no-touch.interceptor.js';

/**
 * This route (or every route of this controller) never extends the session: an idle-warning poll
 * that reads `session.timeLeft()`. It keeps flash, as @KeepFlash() does. A change it makes to the
 * session is written as any change is, and that write counts as activity.
 */
export const NoTouch = (): MethodDecorator & ClassDecorator => UseInterceptors(NoTouchInterceptor);
