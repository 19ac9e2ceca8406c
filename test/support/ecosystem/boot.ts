import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SessionModule, type SessionModuleOptions } from 'nest-session';
import type { Platform } from '../app.js';
import { SECRET } from '../session-app.js';

/** The drivers every ecosystem test runs on: memory, cookie and database (SQLite in memory). */
export type Driver = 'memory' | 'cookie' | 'database';
export const drivers: Driver[] = ['memory', 'cookie', 'database'];

export function sessionModule(driver: Driver): DynamicModule {
  const options: SessionModuleOptions =
    driver === 'database'
      ? { driver, secret: SECRET, database: { dataSource: { type: 'better-sqlite3', database: ':memory:' } } }
      : { driver, secret: SECRET };
  return SessionModule.forRoot(options);
}

/** How the app is made: as main.ts does (NestFactory.create), or as users' tests do (Test.createTestingModule). */
export type Way = 'main.ts' | 'testing module';
export const ways: Way[] = ['main.ts', 'testing module'];

/** What main.ts does between creating the app and init(): app.use(...), app.register(...). */
export type Setup<A> = (app: A) => void | Promise<void>;

export interface Boot {
  express?: Setup<NestExpressApplication>;
  fastify?: Setup<NestFastifyApplication>;
  way?: Way;
}

/**
 * An app made the way users make it: the adapter, then main.ts's `app.use()` / `app.register()`,
 * then `init()` (and Fastify's `ready()`), silent; supertest goes through `app.getHttpServer()`.
 */
export async function boot(
  platform: Platform,
  module: Type<unknown>,
  setup: Boot = {},
): Promise<INestApplication> {
  const way = setup.way ?? 'main.ts';
  let app: INestApplication;
  if (platform === 'express') {
    const express =
      way === 'main.ts'
        ? await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { logger: false })
        : (
            await Test.createTestingModule({ imports: [module] }).compile()
          ).createNestApplication<NestExpressApplication>(new ExpressAdapter(), { logger: false });
    await setup.express?.(express);
    app = express;
  } else {
    const fastify =
      way === 'main.ts'
        ? await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), { logger: false })
        : (
            await Test.createTestingModule({ imports: [module] }).compile()
          ).createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await setup.fastify?.(fastify);
    app = fastify;
  }
  await app.init();
  if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/** The value of the session cookie a response set, or undefined. */
export function sessionCookie(
  res: { headers: Record<string, unknown> },
  name = 'nest_session',
): string | undefined {
  const raw = res.headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  const pair = list.map((c) => c.split(';')[0]).find((p) => p.startsWith(`${name}=`));
  return pair?.slice(name.length + 1);
}
