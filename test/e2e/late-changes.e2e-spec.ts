import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Post, Res, Sse, type INestApplication } from '@nestjs/common';
import { mkdtempSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Observable } from 'rxjs';
import { Session, SessionError, type SessionModuleOptions } from 'nest-session';
import { agent, createApp, platforms, setCookies } from '../support/app.js';
import { SECRET, sessionApp } from '../support/session-app.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** The code a call threw, or 'kept' when it did not throw. */
const attempt = (change: () => unknown): string => {
  try {
    change();
    return 'kept';
  } catch (error) {
    return error instanceof SessionError ? error.code : String(error);
  }
};

/** What a change made after the response ended answered; read by the test once the handler ran. */
let afterEnd: Promise<string> = Promise.resolve('none');

/** Routes that change the session after the response's head was written, and after its end. */
@Controller('late')
class LateController {
  constructor(private readonly session: Session) {}

  /** A streamed body: the head and a chunk go out, then the session changes, then the end. */
  @Get('stream')
  async stream(@Res() reply: ServerResponse | { raw: ServerResponse }) {
    const res = 'raw' in reply ? reply.raw : reply;
    this.session.has('warm');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first;');
    await turn();
    const set = attempt(() => this.session.set('late', 'streamed'));
    const flash = attempt(() => this.session.flash('note', 'after the head'));
    const regenerate = attempt(() => this.session.regenerate());
    await turn();
    res.end(`set=${set};flash=${flash};regenerate=${regenerate}`);
  }

  /** A streamed body whose session is first used after the head (a driver may load it only then). */
  @Get('cold-stream')
  async coldStream(@Res() reply: ServerResponse | { raw: ServerResponse }) {
    const res = 'raw' in reply ? reply.raw : reply;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first;');
    await turn();
    const set = attempt(() => this.session.set('late', 'cold'));
    res.end(`set=${set}`);
  }

  /** Server-sent events: each event after the first changes the session. */
  @Sse('events')
  events(): Observable<{ data: string }> {
    return new Observable((subscriber) => {
      this.session.has('warm');
      subscriber.next({ data: 'start' });
      void turn().then(() => {
        subscriber.next({ data: attempt(() => this.session.set('sse', 'kept')) });
        subscriber.complete();
      });
    });
  }

  /** Changes the session once the response has ended. */
  @Post('after-end')
  afterEnd(@Res({ passthrough: true }) reply: ServerResponse | { raw: ServerResponse }) {
    const res = 'raw' in reply ? reply.raw : reply;
    this.session.set('before', true);
    afterEnd = new Promise((resolve) =>
      res.once('finish', () => setImmediate(() => resolve(attempt(() => this.session.set('after', true))))),
    );
    return { ok: true };
  }
}

@Module({ controllers: [LateController] })
class LateModule {}

const drivers: Array<[string, SessionModuleOptions]> = [
  ['memory', { driver: 'memory', secret: SECRET }],
  // A store whose writes are awaited: the end waits for the late commit.
  [
    'file',
    { driver: 'file', secret: SECRET, file: { directory: join(mkdtempSync(join(tmpdir(), 'late-')), 's') } },
  ],
  ['cookie', { driver: 'cookie', secret: SECRET }],
];

describe.each(platforms)('changes after the response head, on %s', (platform) => {
  describe.each(drivers)('%s driver', (name, options) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(platform, sessionApp(options, [LateModule]));
    });
    afterAll(() => app.close());

    /** A session that holds something, then a request to `path` on it. */
    async function warmThen(path: string) {
      const a = agent(app);
      await a.post('/set').send({ warm: true }).expect(200);
      return { a, res: await a.get(path).expect(200) };
    }

    if (name !== 'cookie') {
      it('keeps a change made while a body streams, before the response ends; the id cannot change', async () => {
        const { a, res } = await warmThen('/late/stream');
        expect(res.text).toBe('first;set=kept;flash=kept;regenerate=SESSION_READ_ONLY');
        const state = await a.get('/state').expect(200);
        expect(state.body.data).toEqual({ warm: true, late: 'streamed' });
        expect(state.body.flash).toEqual({ note: 'after the head' });
      });

      it('keeps a change to a session first used after the head, as one used before it', async () => {
        const { a, res } = await warmThen('/late/cold-stream');
        expect(res.text).toBe('first;set=kept');
        const state = await a.get('/state').expect(200);
        expect(state.body.data).toEqual({ warm: true, late: 'cold' });
      });

      it('keeps what an event stream (@Sse) sets after its first event', async () => {
        const a = agent(app);
        await a.post('/set').send({ warm: true }).expect(200);
        const res = await a.get('/late/events').buffer(true).expect(200);
        expect(res.text).toContain('data: kept');
        const state = await a.get('/state').expect(200);
        expect(state.body.data).toEqual({ warm: true, sse: 'kept' });
      });

      it('refuses a change after the head of a session that sent no cookie with it', async () => {
        const res = await agent(app).get('/late/stream').expect(200);
        expect(res.text).toBe(
          'first;set=SESSION_READ_ONLY;flash=SESSION_READ_ONLY;regenerate=SESSION_READ_ONLY',
        );
        expect(setCookies(res)).toEqual([]);
      });
    } else {
      it('refuses every change after the head at the call: the cookie went out with it', async () => {
        const a = agent(app);
        await a.post('/set').send({ warm: true }).expect(200);
        const res = await a.get('/late/stream').expect(200);
        expect(res.text).toBe(
          'first;set=SESSION_READ_ONLY;flash=SESSION_READ_ONLY;regenerate=SESSION_READ_ONLY',
        );
        const state = await a.get('/state').expect(200);
        expect(state.body.data).toEqual({ warm: true });
        const cold = await a.get('/late/cold-stream').expect(200);
        expect(cold.text).toBe('first;set=SESSION_READ_ONLY');
      });
    }

    it('refuses a change once the response has ended, at the call', async () => {
      const a = agent(app);
      await a.post('/late/after-end').expect(201);
      expect(await afterEnd).toBe('SESSION_READ_ONLY');
      const state = await a.get('/state').expect(200);
      expect(state.body.data).toEqual({ before: true });
    });
  });
});
