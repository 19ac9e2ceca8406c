import {
  Controller,
  ForbiddenException,
  Get,
  Param,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  UseGuards,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  type MiddlewareConsumer,
  type NestModule,
  type Type,
} from '@nestjs/common';
import { AuthGuard, PassportModule, PassportSerializer, PassportStrategy } from '@nestjs/passport';
import passport from 'passport';
import { Strategy } from 'passport-local';
import { SessionRegistry } from 'nest-session';
import { sessionModule, type Driver } from './boot.js';

/** What the app's users table holds. */
export const USERS = [
  { id: 1, username: 'ada', password: 'lovelace' },
  { id: 2, username: 'alan', password: 'turing' },
];
export type User = { id: number; username: string };

@Injectable()
class LocalStrategy extends PassportStrategy(Strategy) {
  validate(username: string, password: string): User | false {
    const user = USERS.find((u) => u.username === username && u.password === password);
    return user === undefined ? false : { id: user.id, username: user.username };
  }
}

/** Keeps the user's id in the session, as the NestJS docs' session example does. */
@Injectable()
class SessionSerializer extends PassportSerializer {
  serializeUser(user: User, done: (err: unknown, id?: number) => void) {
    done(null, user.id);
  }
  deserializeUser(id: number, done: (err: unknown, user?: User | false) => void) {
    const user = USERS.find((u) => u.id === id);
    done(null, user === undefined ? false : { id: user.id, username: user.username });
  }
}

/** The NestJS docs' LocalAuthGuard: authenticate, then log in (a session). */
@Injectable()
class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const result = (await super.canActivate(context)) as boolean;
    const req = context.switchToHttp().getRequest<PassportRequest & { query: Record<string, unknown> }>();
    if (req.query.keep === undefined) await super.logIn(req);
    // passport's option for a returnTo kept across login: the session's data is carried over.
    else
      await new Promise<void>((resolve, reject) =>
        req.logIn(req.user!, { keepSessionInfo: true }, (err) => (err ? reject(err as Error) : resolve())),
      );
    return result;
  }
}

@Injectable()
class AuthenticatedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ isAuthenticated?(): boolean }>();
    if (req.isAuthenticated?.() !== true) throw new ForbiddenException();
    return true;
  }
}

/**
 * The protected routes' guard where passport's middleware cannot reach Nest's request object
 * (Fastify: middie hands it the raw request): passport.session() run on the request guards see.
 * (AuthGuard('session') would not do: @nestjs/passport sets request.user to what the strategy's
 * callback gave, and the session strategy gives nothing: it sets req.user itself and passes.)
 */
@Injectable()
class SessionAuthGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    await new Promise<void>((resolve, reject) =>
      passport.session()(http.getRequest(), http.getResponse(), (err?: unknown) =>
        err ? reject(err as Error) : resolve(),
      ),
    );
    return new AuthenticatedGuard().canActivate(context);
  }
}

type PassportRequest = {
  user?: User;
  session: Record<string, any>;
  logout(cb: (err?: unknown) => void): void;
  logIn(user: User, options: { keepSessionInfo?: boolean }, cb: (err?: unknown) => void): void;
};

@Controller()
class AuthController {
  constructor(private readonly registry: SessionRegistry) {}

  /** passport's login, then the session bound to the user through req.session, as Session.signIn(). */
  @UseGuards(LocalAuthGuard)
  @Post('login-bound')
  @HttpCode(200)
  loginBound(@Req() req: PassportRequest) {
    req.session.signIn(req.user!.id, { label: 'passport' });
    return { userId: req.session.get('passport')?.user ?? null };
  }

  @Get('devices/:id')
  devices(@Param('id') id: string) {
    return this.registry.list(id);
  }

  @UseGuards(LocalAuthGuard)
  @Post('login')
  @HttpCode(200)
  login(@Req() req: PassportRequest) {
    req.session.lastLogin = req.user!.username;
    return req.user;
  }

  @UseGuards(AuthenticatedGuard)
  @Get('profile')
  profile(@Req() req: PassportRequest) {
    return { user: req.user, lastLogin: req.session.lastLogin };
  }

  @UseGuards(SessionAuthGuard)
  @Get('profile-by-guard')
  profileByGuard(@Req() req: PassportRequest) {
    return { user: req.user, lastLogin: req.session.lastLogin };
  }

  @Post('cart')
  @HttpCode(200)
  cart(@Req() req: PassportRequest) {
    req.session.cart = ['book'];
    return 'ok';
  }

  @Get('session')
  session(@Req() req: PassportRequest) {
    return { ...req.session };
  }

  @UseGuards(SessionAuthGuard)
  @Post('logout-by-guard')
  @HttpCode(200)
  logoutByGuard(@Req() req: PassportRequest) {
    return this.logout(req);
  }

  @Post('logout')
  @HttpCode(200)
  logout(@Req() req: PassportRequest) {
    return new Promise((resolve, reject) =>
      req.logout((err) => (err ? reject(err as Error) : resolve('bye'))),
    );
  }
}

@Module({
  imports: [PassportModule.register({ session: true })],
  providers: [LocalStrategy, SessionSerializer],
  controllers: [AuthController],
})
class AuthModule {}

/** passport's middleware applied in a module, as some apps do instead of main.ts. */
@Module({ imports: [AuthModule] })
class AuthWithMiddlewareModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(passport.initialize(), passport.session()).forRoutes('{*path}');
  }
}

/**
 * The app module: the session driver, auth; with `inModule`, passport's middleware comes from
 * consumer.apply(). `session` replaces the driver's SessionModule (one with migrateFrom, say).
 */
export function passportApp(
  driver: Driver,
  inModule = false,
  session: DynamicModule = sessionModule(driver),
): Type<unknown> {
  const auth: Type<unknown> | DynamicModule = inModule ? AuthWithMiddlewareModule : AuthModule;
  @Module({ imports: [session, auth] })
  class AppModule {}
  return AppModule;
}
