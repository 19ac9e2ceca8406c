// A session app in a process of its own, for tests that run several (a rolling deploy): the test
// app's routes, the database driver on a SQLite file shared with the other processes, the cookie
// driver next to it. argv[2]: JSON { secret: string[], database: string }. Sends { port } once it
// listens on 127.0.0.1, and closes on 'stop'.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import process from 'node:process';
import { sessionApp } from './session-app.js';

const { secret, database } = JSON.parse(process.argv[2]) as { secret: string[]; database: string };
const app = await NestFactory.create(
  sessionApp({
    driver: 'database',
    secret,
    database: { dataSource: { type: 'better-sqlite3', database, enableWAL: true }, pruneInterval: 0 },
  }),
  new ExpressAdapter(),
  { logger: false },
);
await app.listen(0, '127.0.0.1');
const address = app.getHttpServer().address() as { port: number };
process.on('message', async (message) => {
  if (message !== 'stop') return;
  await app.close();
  process.disconnect();
});
process.send!({ port: address.port });
