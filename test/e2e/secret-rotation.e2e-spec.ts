import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess } from '../support/app-process.js';

const OLD = 'the-old-secret-that-everyone-signs-with-today';
const NEW = 'the-new-secret-that-replaces-it-after-rotation';

/** One app process: the test app with these secrets, the database driver on the shared SQLite file. */
function startApp(secret: string[], database: string): Promise<AppProcess> {
  return AppProcess.start({
    driver: 'database',
    secret,
    database: { dataSource: { type: 'better-sqlite3', database, enableWAL: true }, pruneInterval: 0 },
  });
}

/** A browser's cookies for one site, kept across requests to any of its processes. */
class Browser {
  private readonly jar = new Map<string, string>();
  /** Responses whose Set-Cookie gave the database driver's cookie another session id. */
  replaced = 0;

  async request(app: AppProcess, method: 'GET' | 'POST', path: string, body?: unknown) {
    const res = await fetch(app.url + path, {
      method,
      headers: {
        cookie: [...this.jar].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const before = this.jar.get(name);
      if (name === 'nest_session' && before !== undefined && sessionId(before) !== sessionId(value)) {
        this.replaced++;
      }
      if (value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    expect(res.status).toBeLessThan(300);
    return (await res.json()) as any;
  }
}

/** The session id a signed cookie carries. */
function sessionId(cookie: string): string {
  return cookie.slice(0, cookie.lastIndexOf('.'));
}

interface Outcome {
  /** Requests that found the user signed out, by driver. */
  signedOut: { database: number; cookie: number };
  /** Responses that replaced a user's database-driver cookie with another session. */
  replaced: number;
  /** Users no longer signed in at the end, by driver. */
  usersLost: { database: number; cookie: number };
  /** Writes acknowledged with a 2xx but missing from the session the user ends with, by driver. */
  lostWrites: { database: number; cookie: number };
}

/**
 * Users signing in on one process or the other, then reading and writing on both in turns, as a
 * load balancer sends them: what the two processes' secret lists do to them.
 */
async function rollingDeploy(a: AppProcess, b: AppProcess): Promise<Outcome> {
  const outcome: Outcome = {
    signedOut: { database: 0, cookie: 0 },
    replaced: 0,
    usersLost: { database: 0, cookie: 0 },
    lostWrites: { database: 0, cookie: 0 },
  };
  for (let user = 1; user <= 4; user++) {
    const browser = new Browser();
    const turns = user % 2 === 0 ? [a, b] : [b, a];
    await browser.request(turns[0], 'POST', '/set', { userId: user });
    await browser.request(turns[0], 'POST', '/driver/cookie', { userId: user });
    for (let step = 1; step <= 6; step++) {
      const app = turns[step % 2];
      const seen = await browser.request(app, 'GET', '/driver/cookie');
      if (seen.defaultData.userId !== user) outcome.signedOut.database++;
      if (seen.data.userId !== user) outcome.signedOut.cookie++;
      await browser.request(app, 'POST', '/set', { [`step${step}`]: step });
      await browser.request(app, 'POST', '/driver/cookie', { [`step${step}`]: step });
    }
    const end = await browser.request(turns[1], 'GET', '/driver/cookie');
    if (end.defaultData.userId !== user) outcome.usersLost.database++;
    if (end.data.userId !== user) outcome.usersLost.cookie++;
    for (let step = 1; step <= 6; step++) {
      if (end.defaultData[`step${step}`] !== step) outcome.lostWrites.database++;
      if (end.data[`step${step}`] !== step) outcome.lostWrites.cookie++;
    }
    outcome.replaced += browser.replaced;
  }
  return outcome;
}

const NOBODY_SIGNED_OUT: Outcome = {
  signedOut: { database: 0, cookie: 0 },
  replaced: 0,
  usersLost: { database: 0, cookie: 0 },
  lostWrites: { database: 0, cookie: 0 },
};

describe('rotating the secret during a rolling deploy (two processes, one SQLite file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nest-session-rotation-'));
  const apps: Record<'old' | 'oldThenNew' | 'newThenOld', AppProcess> = {} as never;

  beforeAll(async () => {
    const database = join(dir, 'sessions.sqlite');
    // The first start creates the table; the others then start side by side.
    apps.old = await startApp([OLD], database);
    [apps.oldThenNew, apps.newThenOld] = await Promise.all([
      startApp([OLD, NEW], database),
      startApp([NEW, OLD], database),
    ]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(Object.values(apps).map((app) => app.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs people out when the new secret is made current at once: [old] next to [new, old]', async () => {
    const outcome = await rollingDeploy(apps.old, apps.newThenOld);
    // The users who signed in on [new, old] lose their session on their first request to [old]...
    expect(outcome.signedOut.database).toBeGreaterThan(0);
    expect(outcome.signedOut.cookie).toBeGreaterThan(0);
    // ...whose response hands them a fresh session in place of theirs: they stay signed out.
    expect(outcome.replaced).toBeGreaterThan(0);
    expect(outcome.usersLost.database).toBeGreaterThan(0);
    expect(outcome.usersLost.cookie).toBeGreaterThan(0);
  }, 60_000);

  it('signs nobody out in phase 1, the new secret added as an older one: [old] next to [old, new]', async () => {
    expect(await rollingDeploy(apps.old, apps.oldThenNew)).toEqual(NOBODY_SIGNED_OUT);
  }, 60_000);

  it('signs nobody out in phase 2, the new secret made current: [old, new] next to [new, old]', async () => {
    expect(await rollingDeploy(apps.oldThenNew, apps.newThenOld)).toEqual(NOBODY_SIGNED_OUT);
  }, 60_000);
});
