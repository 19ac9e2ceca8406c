import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  HttpCode,
  Module,
  Param,
  Post,
  Session as NestSession,
  type INestApplication,
} from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, SessionModule, type SessionModuleOptions } from 'nest-session';
import { MAX_DEPTH } from '../../lib/core/json-value.js';
import { agent, createApp, platforms, setCookies } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { SECRET } from '../support/session-app.js';

type ReqSession = Record<string, any>;

/** `levels` objects inside one another, built without recursion. */
const nested = (levels: number): unknown =>
  Array.from({ length: levels }).reduce<unknown>((inner) => ({ inner }), 1);

/** Nested changes through req.session that JSON cannot keep as they are. */
const unkept: Record<string, (cart: ReqSession) => void> = {
  map: (cart) => (cart.meta.tags = new Map([['a', 1]])),
  bigint: (cart) => cart.items.push(10n),
  nan: (cart) => (cart.total = NaN),
  undefined: (cart) => cart.items.push(undefined),
  circular: (cart) => (cart.self = cart),
  deep: (cart) => cart.items.push(nested(MAX_DEPTH + 1)),
  'tojson-undefined': (cart) => (cart.meta.note = { toJSON: () => undefined }),
};

let saveError: unknown;

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

  /** A nested change of `kind` to req.session.cart, and a plain write beside it. */
  @Post('nested/:kind')
  @HttpCode(200)
  nestedChange(@NestSession() session: ReqSession, @Param('kind') kind: string) {
    session.other = 'written in the same request';
    if (kind === 'push') session.cart.items.push('pear');
    else if (kind === 'date') session.cart.at = new Date(0);
    else unkept[kind](session.cart);
    return 'ok';
  }

  /** save(cb) after a nested change JSON cannot keep: the callback gets the TypeError. */
  @Post('save-bigint')
  @HttpCode(200)
  async saveBigint(@NestSession() session: ReqSession) {
    session.cart.items.push(1n);
    saveError = await new Promise((resolve) => session.save(resolve));
    return 'ok';
  }

  /** regenerate(cb) after a nested change JSON cannot keep: the callback gets the TypeError. */
  @Post('regenerate-bigint')
  @HttpCode(200)
  async regenerateBigint(@NestSession() session: ReqSession) {
    session.cart.items.push(1n);
    saveError = await new Promise((resolve) => session.regenerate(resolve));
    return 'ok';
  }

  /** '__proto__' through req.session: as a property and inside a nested value parsed from JSON. */
  @Post('proto')
  @HttpCode(200)
  proto(@NestSession() session: ReqSession) {
    session['__proto__'] = { isAdmin: true };
    session.cart.meta = JSON.parse('{"__proto__": {"isAdmin": true}}');
    return { isAdmin: session.isAdmin ?? null };
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

  describe('nested changes through req.session', () => {
    it.each(Object.keys(unkept))(
      'a nested %s: 500 SESSION_VALUE_INVALID naming the key, nothing of the request kept',
      async (kind) => {
        const a = agent(app);
        await a.post('/seed').expect(200);
        const res = await a.post(`/nested/${kind}`).expect(500);
        expect(res.body.code).toBe('SESSION_VALUE_INVALID');
        expect(res.body.message).toMatch(/^SESSION_VALUE_INVALID: .*session key 'cart': /);
        expect(setCookies(res)).toEqual([]);
        // Neither the nested change nor the plain write beside it was kept; the session goes on.
        await a.get('/data').expect(200, { data: { cart: { items: ['apple'], meta: {} } }, flash: {} });
        await a.post('/nested/push').expect(200);
        const after = await a.get('/data').expect(200);
        expect(after.body.data.cart).toEqual({ items: ['apple', 'pear'], meta: {} });
        expect(logger.errors().filter((m) => /unavailable|cannot be reached/.test(m))).toEqual([]);
      },
    );

    it('keeps nested changes JSON keeps, a Date as its ISO string', async () => {
      const a = agent(app);
      await a.post('/seed').expect(200);
      await a.post('/nested/date').expect(200);
      const state = await a.get('/data').expect(200);
      expect(state.body.data).toEqual({
        cart: { items: ['apple'], meta: {}, at: '1970-01-01T00:00:00.000Z' },
        other: 'written in the same request',
      });
    });

    it('save(cb) hands the TypeError to its callback, and the commit refuses the request', async () => {
      const a = agent(app);
      await a.post('/seed').expect(200);
      saveError = undefined;
      const res = await a.post('/save-bigint').expect(500);
      expect(res.body.code).toBe('SESSION_VALUE_INVALID');
      expect(saveError).toBeInstanceOf(TypeError);
      expect((saveError as Error).message).toMatch(/session key 'cart': .items: \[1\]: a BigInt/);
      await a.get('/data').expect(200, { data: { cart: { items: ['apple'], meta: {} } }, flash: {} });
    });

    it('regenerate(cb) hands the TypeError to its callback; the session and its id stay', async () => {
      const a = agent(app);
      await a.post('/seed').expect(200);
      const before = await a.get('/data').expect(200);
      saveError = undefined;
      const res = await a.post('/regenerate-bigint').expect(500);
      expect(res.body.code).toBe('SESSION_VALUE_INVALID');
      expect(setCookies(res)).toEqual([]);
      expect((saveError as Error).message).toMatch(/session key 'cart': .items: \[1\]: a BigInt/);
      await a.get('/data').expect(200, before.body);
    });

    it("'__proto__' set through req.session is an ordinary key, never another key", async () => {
      const a = agent(app);
      await a.post('/seed').expect(200);
      await a.post('/proto').expect(200, { isAdmin: null });
      const { body } = await a.get('/data').expect(200);
      expect(Object.keys(body.data).sort()).toEqual(['__proto__', 'cart']);
      expect(body.data['__proto__']).toEqual({ isAdmin: true });
      expect(Object.hasOwn(body.data, 'isAdmin')).toBe(false);
      expect(Object.keys(body.data.cart.meta)).toEqual(['__proto__']);
      expect(body.data.cart.meta.isAdmin).toBeUndefined();
    });
  });

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
