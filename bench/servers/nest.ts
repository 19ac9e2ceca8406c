import 'reflect-metadata';
import {
  Controller,
  Get,
  Module,
  Param,
  Req,
  Session as SessionParam,
  type DynamicModule,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { Session, SessionManager, SessionModule, type SessionModuleOptions } from '../../lib/index.js';
import {
  FOURTEEN_DAYS,
  featureMissing,
  keepAlive,
  runServer,
  selfRequests,
  type ServerConfig,
  type Started,
} from './serve.js';

/** What the new paths call that lib/ may not offer yet (checked at start, see probe()). */
type FlashApi = {
  pushFlash(level: string, message: string): unknown;
  pullFlash(level: string): string[];
};

/** The routes of every session variant, written against the injected Session. */
@Controller()
class SessionController {
  constructor(private readonly session: Session) {}

  @Get('counter')
  counter() {
    const counter = ((this.session.get('counter') as number | undefined) ?? 0) + 1;
    this.session.set('counter', counter);
    return { counter };
  }

  /** The counter again, with a route parameter as the facade route has (its reference). */
  @Get('counter-req')
  counterReq(@Req() _req: unknown) {
    const counter = ((this.session.get('counter') as number | undefined) ?? 0) + 1;
    this.session.set('counter', counter);
    return { counter };
  }

  @Get('new')
  create() {
    this.session.set('visits', 1);
    return { created: true };
  }

  @Get('untouched')
  untouched() {
    return { ok: true };
  }

  @Get('write/:key')
  write(@Param('key') key: string) {
    this.session.set(key, 1);
    return { ok: true };
  }

  @Get('keys')
  keys() {
    return { keys: Object.keys(this.session.all()) };
  }

  @Get('seed/:bytes')
  seed(@Param('bytes') bytes: string) {
    this.session.set('blob', 'x'.repeat(Number(bytes)));
    return { ok: true };
  }

  /** express-session's language through Nest's @Session(): the req.session facade. */
  @Get('facade')
  facade(@SessionParam() session: Record<string, unknown>) {
    const views = ((session.views as number | undefined) ?? 0) + 1;
    session.views = views;
    return { views };
  }

  /** The counter-signed route's setup: the session bound to a user, once, before its warm-up. */
  @Get('sign-in')
  signIn() {
    this.session.signIn('bench-user');
    return { userId: this.session.userId };
  }

  /** A flash message pushed and its level pulled, in one request. */
  @Get('flash')
  flash() {
    const session = this.session as unknown as FlashApi;
    session.pushFlash('info', 'saved');
    return { messages: session.pullFlash('info') };
  }

  /** The message the request before left pulled, one for the next pushed. */
  @Get('flash-relay')
  flashRelay() {
    const session = this.session as unknown as FlashApi;
    const messages = session.pullFlash('info');
    session.pushFlash('info', 'saved');
    return { messages };
  }
}

/** The bare Nest app: the same routes and bodies, no session module. */
@Controller()
class BareController {
  @Get('counter')
  counter() {
    return { counter: 1 };
  }

  @Get('new')
  create() {
    return { created: true };
  }

  @Get('untouched')
  untouched() {
    return { ok: true };
  }
}

/** The stores' calls, per method, since the server started (countStoreCalls). */
const storeCalls: Record<string, Record<string, number>> = {};

@Controller()
class StoreCallsController {
  @Get('store-calls')
  calls() {
    return storeCalls;
  }
}

/**
 * Counts the calls the app makes to a store, per method: only those made from outside the store (a
 * read the store makes inside its own write is part of the write). Wraps the instance's methods,
 * so it changes the code a request runs: never on a server whose instructions are counted.
 */
function countCalls(name: string, store: object): void {
  const counts: Record<string, number> = (storeCalls[name] = {});
  const methods = store as Record<string, unknown>;
  let depth = 0;
  for (const method of ['get', 'getNow', 'apply', 'applyNow']) {
    const original = methods[method];
    if (typeof original !== 'function') continue;
    counts[method] = 0;
    methods[method] = (...args: unknown[]) => {
      if (depth === 0) counts[method] += 1;
      depth += 1;
      try {
        return (original as (...a: unknown[]) => unknown).apply(store, args);
      } finally {
        depth -= 1;
      }
    };
  }
}

@Module({})
class BenchModule {}

function appModule(config: ServerConfig): DynamicModule {
  if (config.driver === undefined) return { module: BenchModule, controllers: [BareController] };
  // Sessions idle for up to 14 days: an unmodified session is written again once 1% of the idle
  // timeout has passed since its last write (72 s by default), by the wall clock. A server under
  // valgrind lives for minutes, and whether that first write (and the re-optimizing it brings) fell
  // among the counted requests of a route that sends the cookie and reads nothing depended on the
  // machine's load. With 14 days, no request of a run takes that path.
  const options: SessionModuleOptions = {
    driver: config.driver,
    secret: config.secret,
    idleTimeout: FOURTEEN_DAYS,
  };
  if (config.driver === 'redis') options.redis = { url: config.redisUrl };
  if (config.users) options.users = config.users;
  const controllers = config.countStoreCalls
    ? [SessionController, StoreCallsController]
    : [SessionController];
  return { module: BenchModule, imports: [SessionModule.forRoot(options)], controllers };
}

/** A Nest 12 app on Express or Fastify; nest-session's database driver uses its default SQLite file in the cwd. */
runServer(async (config): Promise<Started> => {
  const adapter = config.adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app: INestApplication = await NestFactory.create(appModule(config), adapter, {
    logger: false,
    abortOnError: false,
  });
  keepAlive(app.getHttpServer() as Server);
  if (config.countStoreCalls && config.driver !== undefined) {
    // The stores are the manager's own instances: the records' reads go through the same object.
    const manager = app.get(SessionManager);
    if (config.driver !== 'cookie') countCalls(config.driver, manager.store(config.driver));
    const revocation = config.users?.revocationStore;
    if (revocation !== undefined) countCalls(`revocation ${revocation}`, manager.store(revocation));
  }
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as Server).address();
  const port = typeof address === 'object' && address ? address.port : 0;
  if (config.probe) {
    try {
      await probe(config, port);
    } catch (error) {
      await app.close();
      throw error;
    }
  }
  return { port, close: () => app.close() };
});

/**
 * Checks, end to end, that lib/ offers what the variant measures; throws featureMissing() when it
 * does not, so the orchestrator skips the variant with a one-line notice (they light up once merged).
 */
async function probe(config: ServerConfig, port: number): Promise<void> {
  if (config.probe === 'flash') {
    const proto = Session.prototype as unknown as Partial<FlashApi>;
    if (typeof proto.pushFlash !== 'function' || typeof proto.pullFlash !== 'function') {
      throw featureMissing('pushFlash/pullFlash', 'Session has no pushFlash/pullFlash');
    }
    const answers = await selfRequests(port, '/flash', 2);
    const last = answers[1].body as { messages?: unknown };
    if (JSON.stringify(last?.messages) !== '["saved"]') {
      throw featureMissing(
        'pushFlash/pullFlash',
        `second request answered ${answers[1].status} ${JSON.stringify(last)}`,
      );
    }
    return;
  }
  const path = config.probe === 'facade' ? '/facade' : '/counter';
  const answers = await selfRequests(port, path, 2);
  const body = answers[1].body as Record<string, unknown>;
  if (answers[1].status !== 200 || body?.[config.probe === 'facade' ? 'views' : 'counter'] !== 2) {
    const what = config.probe === 'facade' ? 'the req.session facade' : `the '${config.driver}' driver`;
    throw featureMissing(what, `a second request answered ${answers[1].status} ${JSON.stringify(body)}`);
  }
}
