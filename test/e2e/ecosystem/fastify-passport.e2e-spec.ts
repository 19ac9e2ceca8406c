import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  Req,
  Res,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import fastifyPassport from '@fastify/passport';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Strategy as LocalStrategy } from 'passport-local';
import { agent, http } from '../../support/app.js';
import { boot, drivers, sessionCookie, sessionModule, type Driver } from '../../support/ecosystem/boot.js';
import { USERS, type User } from '../../support/ecosystem/passport-app.js';

// The app's auth setup, as @fastify/passport's README has it.
fastifyPassport.use(
  'local',
  new LocalStrategy((username, password, done) => {
    const user = USERS.find((u) => u.username === username && u.password === password);
    done(null, user === undefined ? false : { id: user.id, username: user.username });
  }),
);
fastifyPassport.registerUserSerializer(async (user: User) => user.id);
fastifyPassport.registerUserDeserializer(async (id: number) => {
  const user = USERS.find((u) => u.id === id);
  return user === undefined ? null : { id: user.id, username: user.username };
});

type Request = FastifyRequest & { session: Record<string, any> };

/** Authenticates with the local strategy, then logs the user in (a session). */
@Injectable()
class LocalGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const user = await new Promise<unknown>((resolve, reject) => {
      void fastifyPassport
        .authenticate('local', async (_req, _reply, err, user) =>
          err ? reject(err as Error) : resolve(user),
        )
        .call(req.server, req, reply);
    });
    if (!user) throw new UnauthorizedException();
    await req.logIn(user as never, {
      keepSessionInfo: (req.query as Record<string, unknown>).keep !== undefined,
    });
    return true;
  }
}

@Injectable()
class AuthenticatedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (!context.switchToHttp().getRequest<Request>().isAuthenticated()) throw new ForbiddenException();
    return true;
  }
}

@Controller()
class AuthController {
  @UseGuards(LocalGuard)
  @Post('login')
  @HttpCode(200)
  login(@Req() req: Request) {
    return req.user;
  }

  @UseGuards(AuthenticatedGuard)
  @Get('profile')
  profile(@Req() req: Request) {
    return { user: req.user, returnTo: req.session.returnTo ?? null };
  }

  @Post('visit/:page')
  @HttpCode(200)
  visit(@Req() req: Request, @Param('page') page: string) {
    req.session.returnTo = `/${page}`;
    return 'ok';
  }

  @Get('session')
  session(@Req() req: Request) {
    return req.session.all();
  }

  @Post('logout')
  @HttpCode(200)
  async logout(@Req() req: Request) {
    await req.logOut();
    return 'bye';
  }

  /** @fastify/flash (which @fastify/passport registers) on this session. */
  @Post('flash/:message')
  @HttpCode(200)
  flash(@Req() req: Request, @Param('message') message: string) {
    return { count: req.flash('info', message) };
  }

  @Get('flash')
  read(@Res({ passthrough: true }) reply: FastifyReply) {
    return { info: reply.flash('info') };
  }
}

const appModule = (driver: Driver) => {
  @Module({ imports: [sessionModule(driver)], controllers: [AuthController] })
  class AppModule {}
  return AppModule;
};

describe.each(drivers)('@fastify/passport 4 on Nest and Fastify (%s driver)', (driver) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await boot('fastify', appModule(driver), {
      // main.ts, right after NestFactory.create(), as @fastify/passport's README registers it.
      fastify: async (app) => {
        await app.register(fastifyPassport.initialize());
        await app.register(fastifyPassport.secureSession());
      },
    });
  });
  afterAll(() => app.close());

  it('login gives a new session id and keeps the user; logout forgets them, old cookies too', async () => {
    const a = agent(app);
    const anonymous = sessionCookie(await a.post('/visit/cart').expect(200))!;
    await a.get('/profile').expect(403);
    await a.post('/login').send({ username: 'ada', password: 'wrong' }).expect(401);

    const login = await a.post('/login').send({ username: 'ada', password: 'lovelace' }).expect(200);
    expect(login.body).toEqual({ id: 1, username: 'ada' });
    const signedIn = sessionCookie(login)!;
    expect(signedIn).toBeDefined();
    expect(signedIn).not.toBe(anonymous);
    // clearSessionOnLogin (the default): only the user is kept.
    await a.get('/session').expect(200, { passport: 1 });
    await a.get('/profile').expect(200, { user: { id: 1, username: 'ada' }, returnTo: null });

    const logout = await a.post('/logout').expect(200);
    expect(sessionCookie(logout)).not.toBe(signedIn);
    await a.get('/profile').expect(403);
    await a.get('/session').expect(200, {});
    if (driver !== 'cookie') {
      await http(app).get('/profile').set('Cookie', `nest_session=${signedIn}`).expect(403);
    }
  });

  it('login with keepSessionInfo keeps what the session held (a new id still)', async () => {
    const a = agent(app);
    const anonymous = sessionCookie(await a.post('/visit/orders').expect(200))!;
    const login = await a.post('/login?keep').send({ username: 'alan', password: 'turing' }).expect(200);
    expect(sessionCookie(login)).not.toBe(anonymous);
    await a.get('/profile').expect(200, { user: { id: 2, username: 'alan' }, returnTo: '/orders' });
  });

  it("@fastify/flash's request.flash and reply.flash work on the session, per user", async () => {
    const a = agent(app);
    const b = agent(app);
    await a.post('/flash/hello').expect(200, { count: 1 });
    await a.post('/flash/again').expect(200, { count: 2 });
    await b.get('/flash').expect(200, { info: [] });
    await http(app).get('/flash').expect(200, { info: [] });
    await a.get('/flash').expect(200, { info: ['hello', 'again'] });
    await a.get('/flash').expect(200, { info: [] });
  });
});
