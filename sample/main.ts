import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';
import { sessionOptions } from './session.config.js';
import { setUpViews } from './views.js';

export interface RunningSample {
  app: NestExpressApplication;
  url: string;
  driver: string;
}

/** Starts the sample on PORT (default 3000; 0 picks a free port) and says where. */
export async function startSample(port = Number(process.env.PORT ?? 3000)): Promise<RunningSample> {
  const driver = sessionOptions().driver ?? 'memory';
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    logger: ['error', 'warn', 'log'],
  });
  setUpViews(app, driver);
  app.enableShutdownHooks();
  await app.listen(port);
  const { port: actual } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://localhost:${actual}`, driver };
}
