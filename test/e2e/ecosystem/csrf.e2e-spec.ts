import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, HttpCode, Module, Post, Req, Res, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { parse } from 'cookie';
import { doubleCsrf } from 'csrf-csrf';
import { csrfSync } from 'csrf-sync';
import type { Request, Response } from 'express';
import { agent, http, platforms, type Platform } from '../../support/app.js';
import { SECRET } from '../../support/session-app.js';
import { boot, drivers, sessionModule, ways, type Driver, type Way } from '../../support/ecosystem/boot.js';

// csrf-sync with its defaults: the token is kept in req.session.csrfToken.
const { csrfSynchronisedProtection, generateToken } = csrfSync();

// csrf-csrf: the token is bound to the session's id.
const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
  getSecret: () => SECRET,
  getSessionIdentifier: (req) => (req as Request & { session: { id: string } }).session.id,
  cookieName: 'x-csrf-token',
  cookieOptions: { secure: false },
});

type Package = 'csrf-sync' | 'csrf-csrf';

@Controller()
class FormController {
  @Get('sign-in')
  signIn(@Req() req: Request & { session: Record<string, any> }) {
    req.session.user = 'ada';
    return 'ok';
  }

  @Get('csrf-sync')
  csrfSyncToken(@Req() req: Request) {
    return { token: generateToken(req) };
  }

  @Get('csrf-csrf')
  csrfCsrfToken(
    @Req() req: Request & { session: Record<string, any> },
    @Res({ passthrough: true }) res: Response,
  ) {
    // A session that holds nothing is not kept (no cookie), so its id would not last: as with
    // express-session's saveUninitialized: false, the page that hands out the token starts it.
    req.session.visitor ??= true;
    return { token: generateCsrfToken(req, res) };
  }

  @Post('transfer')
  @HttpCode(200)
  transfer(@Req() req: Request & { session: Record<string, any> }) {
    return { done: true, user: req.session.user ?? null };
  }
}

const appModule = (driver: Driver) => {
  @Module({ imports: [sessionModule(driver)], controllers: [FormController] })
  class AppModule {}
  return AppModule;
};

/** main.ts: cookie-parser's req.cookies (csrf-csrf reads them) and the protection. */
function mainTs(pkg: Package) {
  return (app: NestExpressApplication | NestFastifyApplication) => {
    if (pkg === 'csrf-sync') {
      app.use(csrfSynchronisedProtection);
    } else {
      app.use((req: Request, _res: Response, next: () => void) => {
        req.cookies = parse(req.headers.cookie ?? '');
        next();
      });
      app.use(doubleCsrfProtection);
    }
  };
}

// Express middleware both; csrf-sync runs under Fastify's middie too (csrf-csrf needs Express's res.cookie).
const cases = (['csrf-sync', 'csrf-csrf'] as const).flatMap((pkg) =>
  platforms
    .filter((platform) => platform === 'express' || pkg === 'csrf-sync')
    .flatMap((platform) =>
      drivers.flatMap((driver) =>
        ways
          .filter((way) => (driver === 'memory' && platform === 'express') || way === 'main.ts')
          .map((way) => [pkg, platform, driver, way] as [Package, Platform, Driver, Way]),
      ),
    ),
);

describe.each(cases)('%s in main.ts on %s (%s driver, app made as in %s)', (pkg, platform, driver, way) => {
  let app: INestApplication;
  beforeAll(async () => {
    const setup = mainTs(pkg);
    app = await boot(platform, appModule(driver), { way, express: setup, fastify: setup });
  });
  afterAll(() => app.close());

  it('a POST with the token is accepted; without it, or with a wrong one, 403', async () => {
    const a = agent(app);
    await a.get('/sign-in').expect(200);
    const { token } = (await a.get(`/${pkg}`).expect(200)).body as { token: string };
    expect(typeof token).toBe('string');
    await a.post('/transfer').expect(403);
    await a.post('/transfer').set('x-csrf-token', 'wrong').expect(403);
    await a.post('/transfer').set('x-csrf-token', token).expect(200, { done: true, user: 'ada' });
    // The same token again (it is the session's, not single-use).
    await a.post('/transfer').set('x-csrf-token', token).expect(200, { done: true, user: 'ada' });
    // Another user's session does not take it.
    const b = agent(app);
    await b.get('/sign-in').expect(200);
    await b.post('/transfer').set('x-csrf-token', token).expect(403);
    await http(app).post('/transfer').set('x-csrf-token', token).expect(403);
  });

  it('works for a visitor who has not signed in', async () => {
    const a = agent(app);
    const { token } = (await a.get(`/${pkg}`).expect(200)).body as { token: string };
    await a.post('/transfer').set('x-csrf-token', token).expect(200, { done: true, user: null });
    await a.post('/transfer').set('x-csrf-token', 'wrong').expect(403);
  });
});
