import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { Agent, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Session, SessionModule } from 'nest-session';
import { cookiePair, createApp, http, platforms } from '../support/app.js';
import { SECRET } from '../support/session-app.js';

// A connection's requests mostly bring the same Cookie header, so the last one read on a connection
// is kept with its cookies (http/cookies.ts). Requests of one keep-alive connection that bring other
// cookies, or none, each get their own session all the same.

@Controller()
class WhoController {
  constructor(private readonly session: Session) {}

  @Get('name/:name')
  name(@Param('name') name: string) {
    this.session.set('name', name);
    return 'ok';
  }

  @Get('who')
  who() {
    return this.session.get('name') ?? 'nobody';
  }

  @Get('untouched')
  untouched() {
    return 'ok';
  }
}

describe.each(platforms.flatMap((p) => (['memory', 'cookie'] as const).map((d) => [p, d] as const)))(
  'requests of one keep-alive connection with other cookies (%s, %s driver)',
  (platform, driver) => {
    @Module({ imports: [SessionModule.forRoot({ driver, secret: SECRET })], controllers: [WhoController] })
    class AppModule {}

    let app: INestApplication;
    let port: number;
    const connection = new Agent({ keepAlive: true, maxSockets: 1 });
    beforeAll(async () => {
      app = await createApp(platform, AppModule);
      await app.listen(0, '127.0.0.1');
      port = (app.getHttpServer().address() as AddressInfo).port;
    });
    afterAll(async () => {
      connection.destroy();
      await app.close();
    });

    /** GET on the one connection: the body, and whether the connection was used before. */
    const send = (path: string, cookie?: string) =>
      new Promise<{ body: string; reused: boolean }>((resolve, reject) => {
        const headers = cookie === undefined ? {} : { cookie };
        const req = get(
          { host: '127.0.0.1', port, path, agent: connection, headers },
          (res: IncomingMessage) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ body, reused: req.reusedSocket }));
          },
        );
        req.on('error', reject);
      });

    it('reads each request’s own Cookie header', async () => {
      const name = 'nest_session';
      const ann = cookiePair(await http(app).get('/name/ann'), name)!;
      const bob = cookiePair(await http(app).get('/name/bob'), name)!;
      const answers = [];
      for (const cookie of [ann, ann, bob, undefined, ann, `${bob}; other=1`, `${name}=forged.value`, bob])
        answers.push(await send('/who', cookie));
      expect(answers.map((a) => a.body)).toEqual([
        'ann',
        'ann',
        'bob',
        'nobody',
        'ann',
        'bob',
        'nobody',
        'bob',
      ]);
      expect(answers.slice(1).every((a) => a.reused)).toBe(true);
      // An untouched route between them, with the same header as the request before.
      expect((await send('/untouched', bob)).body).toBe('ok');
      expect((await send('/who', ann)).body).toBe('ann');
    });
  },
);
