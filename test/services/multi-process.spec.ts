import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { SessionModuleOptions } from 'nest-session';
import { AppProcess } from '../support/app-process.js';
import { serverDatabase, serviceUrl } from '../support/services.js';
import { SECRET } from '../support/session-app.js';

/** A browser's session cookie, kept across requests to any of the processes. */
class Browser {
  cookie = '';

  async request(app: AppProcess, method: 'GET' | 'POST', path: string, body?: unknown) {
    const res = await fetch(app.url + path, {
      method,
      redirect: 'manual',
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      if (!pair.startsWith('nest_session=')) continue;
      this.cookie = pair === 'nest_session=' ? '' : pair;
    }
    const text = await res.text();
    return {
      status: res.status,
      location: res.headers.get('location'),
      body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
    };
  }
}

const postgres = serverDatabase('postgres');
const redisUrl = serviceUrl('NEST_SESSION_REDIS_URL');
const prefix = `nest-session-test:${process.pid}:multi:`;

const stores: [string, () => SessionModuleOptions][] = [
  [
    'database driver on PostgreSQL',
    () => ({ driver: 'database', secret: SECRET, database: { ...postgres.fresh(), pruneInterval: 0 } }),
  ],
  ['redis driver', () => ({ driver: 'redis', secret: SECRET, redis: { url: redisUrl, prefix } })],
];

afterAll(async () => {
  await postgres.cleanup();
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe.each(stores)('two app processes on the %s', (_name, options) => {
  let a: AppProcess;
  let b: AppProcess;
  beforeAll(async () => {
    const shared = options();
    [a, b] = await Promise.all([AppProcess.start(shared), AppProcess.start(shared)]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('each step sees what the previous step did on the other process', async () => {
    const browser = new Browser();
    expect(await browser.request(a, 'POST', '/sign-in', { userId: 5 })).toMatchObject({ status: 200 });
    const signedIn = browser.cookie;
    expect(signedIn).not.toBe('');
    expect((await browser.request(b, 'GET', '/whoami')).body).toEqual({ userId: 5 });

    // Flash, then a 303 redirect: the page it leads to is served by the other process.
    const redirect = await browser.request(a, 'POST', '/flash-res-redirect', { success: 'saved' });
    expect(redirect).toMatchObject({ status: 303, location: '/state' });
    expect((await browser.request(b, 'GET', '/read-flash')).body).toEqual({
      success: 'saved',
      all: { success: 'saved' },
    });
    expect((await browser.request(a, 'GET', '/read-flash')).body).toEqual({ success: null, all: {} });

    const regenerated = await browser.request(b, 'POST', '/regenerate');
    expect(regenerated.status).toBe(200);
    expect(browser.cookie).not.toBe(signedIn);
    expect((await browser.request(a, 'GET', '/whoami')).body).toEqual({ userId: 5 });
    const old = new Browser();
    old.cookie = signedIn;
    expect((await old.request(a, 'GET', '/whoami')).body).toEqual({ userId: null });
    expect((await old.request(b, 'POST', '/set', { userId: 6 })).status).toBe(409);

    expect(await browser.request(a, 'POST', '/destroy')).toMatchObject({ status: 200 });
    expect(browser.cookie).toBe('');
    expect((await browser.request(b, 'GET', '/whoami')).body).toEqual({ userId: null });
    expect((await browser.request(b, 'GET', '/state')).body).toMatchObject({ isNew: true, data: {} });
  }, 20_000);
});
