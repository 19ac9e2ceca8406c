import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import session from 'express-session';
import { randomBytes } from 'node:crypto';
import { fromExpressSessionStore, type SessionModuleOptions } from 'nest-session';
import { cookiePair, http, platforms, setCookies, type Platform } from '../support/app.js';
import { ONLY_DATE } from '../support/fixtures.js';
import {
  IN_PROCESS_STORES,
  awaitingInstall,
  callback,
  type MadeStore,
} from '../support/express-session-stores.js';
import { clears, expressSessionCookie, migratedApp, profilePath } from '../support/migration.js';
import { expressSessionApp, signInOld } from '../support/old-apps.js';
import { extendModule } from '../support/stores.js';

/** express-session's README secret, rotated: the app signed with the first, then with the second. */
const OLD_SECRETS = ['keyboard cat', 'keyboard dog'];
const ADA = { id: 1, username: 'ada' };
const ALAN = { id: 2, username: 'alan' };

const storeLength = (store: session.Store) => callback<number>((cb) => store.length!(cb));
const storeGet = (store: session.Store, id: string) => callback<unknown>((cb) => store.get(id, cb));
/** The session id an express-session cookie pair carries (its value is `s:<id>.<signature>`). */
const oldId = (pair: string) => decodeURIComponent(pair.split('=')[1]).slice(2).split('.')[0];

/** The cookie with one character of its signature changed. */
function alterSignature(pair: string): string {
  const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1));
  const at = value.length - 2;
  const altered = value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
  return `connect.sid=${encodeURIComponent(altered)}`;
}

/** Where the migrated sessions go: the memory driver, the cookie driver, or the old store itself. */
type Target = 'memory' | 'cookie' | 'the same express-session store';
const targets: Target[] = ['memory', 'cookie', 'the same express-session store'];

function target(name: Target, store: session.Store) {
  if (name !== 'the same express-session store') return { options: { driver: name }, imports: [] };
  return {
    options: { driver: 'express' },
    imports: [extendModule('express', fromExpressSessionStore(store))],
  };
}

describe.each(platforms.flatMap((p) => targets.map((t) => [p, t] as const)))(
  'moving passport users from express-session + MemoryStore (%s, into %s)',
  (platform: Platform, into: Target) => {
    const store = new session.MemoryStore();
    const before = expressSessionApp({ store, secret: OLD_SECRETS[0] });
    const after = expressSessionApp({ store, secret: [OLD_SECRETS[1], OLD_SECRETS[0]] });
    let app: INestApplication;
    beforeAll(async () => {
      const { options, imports } = target(into, store);
      app = await migratedApp(
        platform,
        { ...options, migrateFrom: { expressSession: { secret: [...OLD_SECRETS].reverse(), store } } },
        imports,
      );
    });
    afterAll(() => app.close());

    it('signs nobody out: passport sees the user, the data moves, the old cookie and record go', async () => {
      const ada = await signInOld(before, 'ada', 'lovelace');
      const alan = await signInOld(after, 'alan', 'turing');
      const oldCount = (await storeLength(store))!;

      for (const [pair, user] of [
        [ada, ADA],
        [alan, ALAN],
      ] as const) {
        const res = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(200);
        expect(res.body.user).toEqual(user);
        expect(clears(res, 'connect.sid')).toBe(true);
        expect(await storeGet(store, oldId(pair))).toBeUndefined();
        const moved = cookiePair(res, 'nest_session')!;
        expect(moved).toBeDefined();
        // From now on the new cookie alone: still signed in, with what the session held.
        await http(app)
          .get(profilePath(platform))
          .set('Cookie', moved)
          .expect(200)
          .expect((r) => expect(r.body.user).toEqual(user));
        const data = await http(app).get('/session').set('Cookie', moved).expect(200);
        expect(data.body).toEqual({ passport: { user: user.id }, cart: ['book'] });
        // connect-flash's message, read with req.flash() here.
        const flash = await http(app).get('/flash/info').set('Cookie', moved).expect(200);
        expect(flash.body).toEqual(['Welcome back']);
      }
      // Two old records went; the nest-session sessions the same store may now hold are not old ones.
      const left = into === 'the same express-session store' ? 2 : 0;
      expect(await storeLength(store)).toBe(oldCount - 2 + left);
    });
  },
);

const otherStores = IN_PROCESS_STORES.filter((s) => s.pkg !== 'express-session');
describe.each(platforms.flatMap((p) => otherStores.map((s) => [p, s.name, s] as const)))(
  'moving passport users from express-session (%s, %s)',
  (platform, _name, entry) => {
    if (awaitingInstall(entry.pkg)) {
      it.todo(`runs once ${entry.pkg} is a devDependency`);
      return;
    }
    let made: MadeStore;
    let app: INestApplication;
    beforeAll(async () => {
      made = await entry.make();
      app = await migratedApp(platform, {
        migrateFrom: { expressSession: { secret: OLD_SECRETS[0], store: made.store } },
      });
    });
    afterAll(async () => {
      await app.close();
      await made.cleanup();
    });

    it('signs nobody out, and the old records go', async () => {
      const old = expressSessionApp({ store: made.store, secret: OLD_SECRETS[0] });
      const pairs = [await signInOld(old, 'ada', 'lovelace'), await signInOld(old, 'alan', 'turing')];
      for (const [i, pair] of pairs.entries()) {
        expect(await storeGet(made.store, oldId(pair))).toBeTruthy();
        const res = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(200);
        expect(res.body.user).toEqual([ADA, ALAN][i]);
        expect(clears(res, 'connect.sid')).toBe(true);
        expect(await storeGet(made.store, oldId(pair))).toBeFalsy();
        await http(app)
          .get('/session')
          .set('Cookie', cookiePair(res, 'nest_session')!)
          .expect(200, { passport: { user: i + 1 }, cart: ['book'] });
      }
    });
  },
);

describe.each(platforms)('migrating from express-session on %s', (platform) => {
  /** A MemoryStore that can be switched off (an old database that goes down) and counts its reads. */
  class OldStore extends session.MemoryStore {
    up = true;
    reads = 0;
    override get(id: string, cb: (err: unknown, s?: session.SessionData | null) => void) {
      this.reads++;
      if (!this.up) return void setImmediate(() => cb(new Error('connect ECONNREFUSED')));
      super.get(id, cb);
    }
  }
  const store = new OldStore();
  const old = expressSessionApp({ store, secret: OLD_SECRETS[0] });
  let app: INestApplication;
  const options: SessionModuleOptions = { migrateFrom: { expressSession: { secret: OLD_SECRETS, store } } };
  beforeAll(async () => {
    app = await migratedApp(platform, options);
  });
  afterAll(() => app.close());
  afterEach(() => {
    jest.useRealTimers();
    store.up = true;
  });

  it('does nothing for requests without the old cookie: no store read, no cookie', async () => {
    store.reads = 0;
    const res = await http(app).get('/session').set('Cookie', 'other=1').expect(200, {});
    expect(setCookies(res)).toEqual([]);
    expect(store.reads).toBe(0);
  });

  it.each([
    ['a forged signature', (pair: string) => alterSignature(pair)],
    ['another secret', (pair: string) => expressSessionCookie(oldId(pair), 'not the secret')],
    ['no signature', (pair: string) => `connect.sid=${oldId(pair)}`],
  ])('ignores an old cookie with %s, without reading the store', async (_label, forge) => {
    const pair = await signInOld(old, 'ada', 'lovelace');
    store.reads = 0;
    const res = await http(app).get(profilePath(platform)).set('Cookie', forge(pair)).expect(403);
    expect(setCookies(res)).toEqual([]);
    expect(store.reads).toBe(0);
    expect(await storeGet(store, oldId(pair))).toBeDefined();
  });

  it('an unknown old id, signed: one read, a fresh session, and the old cookie cleared', async () => {
    store.reads = 0;
    const res = await http(app)
      .get(profilePath(platform))
      .set('Cookie', expressSessionCookie(randomBytes(24).toString('base64url'), OLD_SECRETS[1]))
      .expect(403);
    expect(store.reads).toBe(1);
    expect(cookiePair(res, 'nest_session')).toBeUndefined();
    expect(clears(res, 'connect.sid')).toBe(true);
  });

  it("a page's requests racing with the old cookie end in one session, the old store read once", async () => {
    const pair = await signInOld(old, 'ada', 'lovelace');
    store.reads = 0;
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => http(app).get(profilePath(platform)).set('Cookie', pair)),
    );
    const moved = new Set(responses.map((r) => cookiePair(r, 'nest_session')));
    expect(responses.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(moved.size).toBe(1);
    expect(store.reads).toBe(1);
    await http(app)
      .get('/session')
      .set('Cookie', [...moved][0]!)
      .expect(200, { passport: { user: 1 }, cart: ['book'] });
  });

  it('the old cookie leads to the moved session for a minute after the move, then to nothing', async () => {
    jest.useFakeTimers({ doNotFake: [...ONLY_DATE] });
    const pair = await signInOld(old, 'alan', 'turing');
    const first = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(200);
    // A retry after a lost response, a few seconds later.
    jest.setSystemTime(Date.now() + 5_000);
    const retry = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(200);
    expect(cookiePair(retry, 'nest_session')).toBe(cookiePair(first, 'nest_session'));
    jest.setSystemTime(Date.now() + 2 * 60_000);
    const late = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(403);
    expect(cookiePair(late, 'nest_session')).toBeUndefined();
    expect(clears(late, 'connect.sid')).toBe(true);
    // The moved session itself goes on.
    await http(app).get(profilePath(platform)).set('Cookie', cookiePair(first, 'nest_session')!).expect(200);
  });

  it('signing out on nest-session is final: the old cookie, replayed at once, signs no one in', async () => {
    const pair = await signInOld(old, 'ada', 'lovelace');
    const moved = cookiePair(
      await http(app).get('/session').set('Cookie', pair).expect(200),
      'nest_session',
    )!;
    await http(app)
      .post(platform === 'express' ? '/logout' : '/logout-by-guard')
      .set('Cookie', moved)
      .expect(200);
    const replay = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(403);
    expect(cookiePair(replay, 'nest_session')).toBeUndefined();
  });

  it('an old store that is down: 503 where the session is used, the old cookie kept; it moves later', async () => {
    const pair = await signInOld(old, 'alan', 'turing');
    store.up = false;
    const down = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(503);
    expect(down.body.message).toMatch(/^SESSION_STORE_UNAVAILABLE: .*migrateFrom\.expressSession/);
    expect(setCookies(down)).toEqual([]);
    store.up = true;
    const back = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(200);
    expect(back.body.user).toEqual(ALAN);
    expect(clears(back, 'connect.sid')).toBe(true);
  });
});
