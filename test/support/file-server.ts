// One process of the file driver's two-process test: a small Nest app on the file driver, its
// sessions in the directory given as argv[2], started by test/e2e/file-processes.e2e-spec.ts with an
// IPC channel. It listens on a free port and says which ({ type: 'ready', port }). POST
// /concurrent/:key holds each request, its session loaded, until the parent says 'go' (after every
// process has reported that all the requests it expects have arrived), then sets the key; POST
// /set/:key sets it at once. POST /sign-in/:user is held the same way, then signs the user in (one
// session per user: users.maxPerUser 1, 'reject'); GET /count/:user counts the user's sessions.
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { Session, SessionModule, SessionRegistry } from '../../lib/index.js';

interface Message {
  type: 'expect' | 'go' | 'stop';
  count?: number;
}

const directory = process.argv[2];
const secret = process.argv[3];
let expected = Infinity;
const waiting: Array<() => void> = [];

function send(message: object): void {
  process.send!(message);
}

function arrive(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === expected) send({ type: 'arrived', count: waiting.length });
  });
}

@Controller()
class TestController {
  constructor(
    private readonly session: Session,
    private readonly registry: SessionRegistry,
  ) {}

  @Post('warm')
  @HttpCode(200)
  warm() {
    this.session.set('warm', process.pid);
    return { ok: true };
  }

  @Post('concurrent/:key')
  @HttpCode(200)
  async concurrent(@Param('key') key: string) {
    this.session.has('warm');
    await arrive();
    this.session.set(key, process.pid);
    return { ok: true };
  }

  @Post('set/:key')
  @HttpCode(200)
  set(@Param('key') key: string) {
    this.session.set(key, process.pid);
    return { ok: true };
  }

  @Post('sign-in/:user')
  @HttpCode(200)
  async signIn(@Param('user') user: string) {
    await arrive();
    this.session.signIn(user);
    return { userId: this.session.userId };
  }

  @Get('count/:user')
  async count(@Param('user') user: string) {
    return { count: await this.registry.count(user) };
  }

  @Get('state')
  state() {
    return { id: this.session.id, data: this.session.all() };
  }
}

@Module({
  imports: [
    SessionModule.forRoot({
      driver: 'file',
      secret,
      file: { directory, pruneInterval: 0 },
      users: { maxPerUser: 1, onLimit: 'reject' },
    }),
  ],
  controllers: [TestController],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(0, '127.0.0.1');
process.on('message', (message: Message) => {
  if (message.type === 'expect') expected = message.count!;
  if (message.type === 'go') waiting.splice(0).forEach((resolve) => resolve());
  if (message.type === 'stop') void app.close().then(() => process.exit(0));
});
send({ type: 'ready', port: (app.getHttpServer().address() as AddressInfo).port });
