import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, HttpCode, Module, Param, Post, type INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, SessionModule, type SessionModuleOptions } from 'nest-session';
import { MAX_DEPTH } from '../../lib/core/json-value.js';
import { agent, createApp, platforms, setCookies } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { SECRET } from '../support/session-app.js';

/** `levels` objects inside one another, built without recursion. */
const nested = (levels: number): unknown =>
  Array.from({ length: levels }).reduce<unknown>((inner) => ({ inner }), 1);

@Controller()
class ValuesController {
  constructor(private readonly session: Session) {}

  @Post('seed')
  @HttpCode(200)
  seed() {
    this.session.set('cart', { items: ['apple'], meta: {} });
    return 'ok';
  }

  @Get('data')
  data() {
    return { data: this.session.all(), flash: this.session.flashes() };
  }

  /** flash() and pushFlash() of a value nested `levels` deep. */
  @Post('flash-deep/:levels')
  @HttpCode(200)
  flashDeep(@Param('levels') levels: string) {
    const value = nested(Number(levels));
    const errors: string[] = [];
    for (const write of [() => this.session.flash('f', value), () => this.session.pushFlash('info', value)]) {
      try {
        write();
      } catch (error) {
        errors.push(`${(error as Error).name}: ${(error as Error).message}`);
      }
    }
    return { errors };
  }

  /** set() of a value `levels` deep (the file driver stored 3 000 and then failed every write). */
  @Post('set-deep/:levels')
  @HttpCode(200)
  setDeep(@Param('levels') levels: string) {
    try {
      this.session.set('deep', nested(Number(levels)));
      return { error: null };
    } catch (error) {
      return { error: (error as Error).name, message: (error as Error).message };
    }
  }

  @Post('touch')
  @HttpCode(200)
  touch() {
    this.session.set('touched', true);
    return 'ok';
  }
}

function valuesApp(options: SessionModuleOptions) {
  @Module({ imports: [SessionModule.forRoot(options)], controllers: [ValuesController] })
  class ValuesModule {}
  return ValuesModule;
}

describe.each(platforms)('session values on %s', (platform) => {
  const logger = new RecordingLogger();
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp(platform, valuesApp({ secret: SECRET }), logger);
  });
  afterAll(() => app.close());

  describe('depth', () => {
    it(`flash() and pushFlash() refuse a value nested past ${MAX_DEPTH} levels with a TypeError naming the key`, async () => {
      const a = agent(app);
      const refused = await a.post(`/flash-deep/${MAX_DEPTH + 1}`).expect(200);
      expect(refused.body.errors).toEqual([
        expect.stringMatching(/^TypeError: session key 'f': .*more than 64 levels deep/),
        expect.stringMatching(/^TypeError: session key 'info\[0\]': .*more than 64 levels deep/),
      ]);
      expect(setCookies(refused)).toEqual([]);
      await a.post(`/flash-deep/${MAX_DEPTH}`).expect(200, { errors: [] });
    });
  });
});

describe.each(platforms)('a value the file driver cannot keep, on %s', (platform) => {
  const root = mkdtempSync(join(tmpdir(), 'nest-session-values-'));
  const logger = new RecordingLogger();
  let app: INestApplication;
  beforeAll(async () => {
    const options = { driver: 'file', secret: SECRET, file: { directory: root, pruneInterval: 0 } };
    app = await createApp(platform, valuesApp(options), logger);
  });
  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is refused at set() (3 000 levels), never stored, never an outage; the session goes on', async () => {
    const a = agent(app);
    await a.post('/touch').expect(200);
    const res = await a.post('/set-deep/3000').expect(200);
    expect(res.body.error).toBe('TypeError');
    expect(res.body.message).toMatch(/^session key 'deep': .*more than 64 levels deep/);
    await a.post('/touch').expect(200);
    await a.post('/seed').expect(200);
    const state = await a.get('/data').expect(200);
    expect(Object.keys(state.body.data).sort()).toEqual(['cart', 'touched']);
    expect(logger.errors()).toEqual([]);
  });
});
