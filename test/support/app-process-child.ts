// The test app in a process of its own (app-process.ts starts it), for tests that run several app
// processes on one store: sessionApp's routes plus sign-in, on Express. argv[2]: JSON
// SessionModuleOptions. Sends { port } once it listens on 127.0.0.1, and closes on 'stop'.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import process from 'node:process';
import type { SessionModuleOptions } from 'nest-session';
import { sessionApp } from './session-app.js';
import { SignInModule } from './sign-in.js';

const options = JSON.parse(process.argv[2]) as SessionModuleOptions;
const app = await NestFactory.create(sessionApp(options, [SignInModule]), new ExpressAdapter(), {
  logger: ['error'],
});
await app.listen(0, '127.0.0.1');
const address = app.getHttpServer().address() as { port: number };
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await app.close();
  process.disconnect();
});
process.send!({ port: address.port });
