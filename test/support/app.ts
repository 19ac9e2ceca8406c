import type { INestApplication, LoggerService, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';

export type Platform = 'express' | 'fastify';
export const platforms: Platform[] = ['express', 'fastify'];

/** A Nest app on the given adapter, initialised and ready for supertest; silent unless given a logger. */
export async function createApp(
  platform: Platform,
  module: Type<unknown>,
  logger: LoggerService | false = false,
): Promise<INestApplication> {
  const ref = await Test.createTestingModule({ imports: [module] }).compile();
  const app =
    platform === 'express'
      ? ref.createNestApplication(new ExpressAdapter(), { logger })
      : ref.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger });
  await app.init();
  if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

export function http(app: INestApplication) {
  return request(app.getHttpServer());
}

export function agent(app: INestApplication) {
  return request.agent(app.getHttpServer());
}

/** The Set-Cookie values of a response, as an array. */
export function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const raw = res.headers['set-cookie'];
  return raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
}

/** `name=value` of the named cookie in a response, for sending it back by hand. */
export function cookiePair(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  return setCookies(res)
    .map((c) => c.split(';')[0])
    .find((pair) => pair.startsWith(`${name}=`));
}

/** Resolves every waiter once `size` of them have arrived: proves requests overlap, without sleeping. */
export class Barrier {
  private waiting: (() => void)[] = [];
  constructor(private size: number) {}
  reset(size: number): void {
    this.size = size;
    this.waiting = [];
  }
  arrive(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.waiting.length >= this.size) this.waiting.splice(0).forEach((r) => r());
    });
  }
}
