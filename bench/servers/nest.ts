import 'reflect-metadata';
import { Controller, Get, Module, Param, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { Session, SessionModule, type SessionModuleOptions } from '../../lib/index.js';
import { runServer, type ServerConfig, type Started } from './serve.js';

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

@Module({})
class BenchModule {}

function appModule(config: ServerConfig): DynamicModule {
  if (config.driver === undefined) return { module: BenchModule, controllers: [BareController] };
  const options: SessionModuleOptions = { driver: config.driver, secret: config.secret };
  if (config.driver === 'redis') options.redis = { url: config.redisUrl };
  return { module: BenchModule, imports: [SessionModule.forRoot(options)], controllers: [SessionController] };
}

/** A Nest 12 app on Express or Fastify; nest-session's database driver uses its default SQLite file in the cwd. */
runServer(async (config): Promise<Started> => {
  const adapter = config.adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app: INestApplication = await NestFactory.create(appModule(config), adapter, {
    logger: false,
    abortOnError: false,
  });
  await app.listen(0, '127.0.0.1');
  const address = (app.getHttpServer() as Server).address();
  return { port: typeof address === 'object' && address ? address.port : 0, close: () => app.close() };
});
