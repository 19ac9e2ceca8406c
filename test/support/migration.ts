import { Controller, Get, Module, Param, Req, type DynamicModule, type Type } from '@nestjs/common';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import passport from 'passport';
import { SessionModule, type SessionModuleOptions } from 'nest-session';
import { setCookies, type Platform } from './app.js';
import { boot } from './ecosystem/boot.js';
import { passportApp } from './ecosystem/passport-app.js';
import { SECRET } from './session-app.js';

/** GET /flash/:type: connect-flash's req.flash(type), read on the Nest app. */
@Controller()
class FlashController {
  @Get('flash/:type')
  flash(@Req() req: { flash(type: string): unknown[] }, @Param('type') type: string) {
    return req.flash(type);
  }
}

@Module({ controllers: [FlashController] })
class FlashModule {}

/**
 * The Nest app users move to: passport 0.7 + @nestjs/passport (test/support/ecosystem), the given
 * session options (migrateFrom), main.ts's passport middleware, on the given adapter.
 */
export function migratedApp(
  platform: Platform,
  options: SessionModuleOptions,
  imports: Array<Type<unknown> | DynamicModule> = [],
) {
  const session = SessionModule.forRoot({ secret: SECRET, ...options });
  @Module({ imports: [passportApp('memory', false, session), FlashModule, ...imports] })
  class MigratedAppModule {}
  const usePassport = (app: { use(handler: unknown): unknown }) => {
    app.use(passport.initialize());
    app.use(passport.session());
  };
  return boot(platform, MigratedAppModule, { express: usePassport, fastify: usePassport });
}

/** The protected route: on Fastify passport's middleware sees only the raw request (see passport-app.ts). */
export const profilePath = (platform: Platform) =>
  platform === 'express' ? '/profile' : '/profile-by-guard';

/** Whether a response clears a cookie (an empty value that has expired). */
export function clears(res: { headers: Record<string, unknown> }, name: string): boolean {
  return setCookies(res).some(
    (c) => c.startsWith(`${name}=;`) && /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c),
  );
}

const require = createRequire(import.meta.url);
/** express-session's own cookie-signature (its dependency, not the one express uses). */
export const cookieSignature = require(
  require.resolve('cookie-signature', { paths: [dirname(require.resolve('express-session'))] }),
) as { sign(value: string, secret: string): string; unsign(signed: string, secret: string): string | false };

/** An express-session cookie for any id, signed by cookie-signature (for ids no app issued). */
export function expressSessionCookie(id: string, secret: string, name = 'connect.sid'): string {
  return `${name}=${encodeURIComponent(`s:${cookieSignature.sign(id, secret)}`)}`;
}
