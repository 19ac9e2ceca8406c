import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Response } from 'supertest';
import { cookiePair, createApp } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { hold, sessionApp } from '../support/session-app.js';
import {
  FULL,
  figure,
  random,
  stressDrivers,
  stressPlatforms,
  type App,
  type Client,
  listening,
} from './support.js';

jest.setTimeout(FULL ? 600_000 : 60_000);

/** 199 writers and one regenerate() or destroy() on one session, released together in a random order. */
const WRITERS = 199;
const RUNS = FULL ? 10 : 1;
const COOKIE = 'nest_session';
const rand = random();

interface Tally {
  runs: number;
  setsAcked: number;
  setsKept: number;
  deletesAcked: number;
  deletesUndone: number;
  flashesAcked: number;
  flashesKept: number;
  conflicts: number;
  /** 409s whose change is in the session anyway. */
  conflictsKept: number;
  other: number;
  /** Runs after which the retired id still opened a session with data. */
  retiredAlive: number;
  /** Responses to requests with the retired id that set a cookie. */
  cookiesReplaced: number;
}

const tally = (): Tally => ({
  runs: 0,
  setsAcked: 0,
  setsKept: 0,
  deletesAcked: 0,
  deletesUndone: 0,
  flashesAcked: 0,
  flashesKept: 0,
  conflicts: 0,
  conflictsKept: 0,
  other: 0,
  retiredAlive: 0,
  cookiesReplaced: 0,
});

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

let users = 0;

async function race(req: Client, how: 'regenerate' | 'destroy' | 'revoke', t: Tally): Promise<void> {
  const seed: Record<string, unknown> = { warm: true };
  for (let i = 0; i < WRITERS; i++) seed[`d${i}`] = i;
  const seeded = await req().post('/set').send(seed).expect(200);
  let oldPair = cookiePair(seeded, COOKIE)!;
  // revoke: the session is a user's, revoked by an admin while 199 requests on it are in flight.
  const user = `race-${process.pid}-${++users}`;
  if (how === 'revoke') {
    const signedIn = await req().post(`/sign-in/${user}`).set('Cookie', oldPair).expect(200);
    oldPair = cookiePair(signedIn, COOKIE)!;
  }
  hold.reset();
  const kinds = ['set', 'set', 'delete', 'flash'] as const;
  const requests = new Map<string, Promise<Response>>();
  const tagged: Array<{ tag: string; kind: (typeof kinds)[number] | 'retire'; key: string }> = [];
  for (let i = 0; i < WRITERS; i++) {
    const kind = kinds[i % kinds.length];
    const key = kind === 'delete' ? `d${i}` : kind === 'flash' ? `f${i}` : `k${i}`;
    tagged.push({ tag: `${kind}:${key}`, kind, key });
    requests.set(
      `${kind}:${key}`,
      req()
        .post(`/held/${kind}/${key}`)
        .set('Cookie', oldPair)
        .then((r) => r),
    );
  }
  if (how !== 'revoke') {
    tagged.push({ tag: how, kind: 'retire', key: '' });
    requests.set(
      how,
      req()
        .post(`/held/${how}`)
        .set('Cookie', oldPair)
        .then((r) => r),
    );
  }
  // All of them have loaded the session before any of them commits.
  await hold.held(how === 'revoke' ? WRITERS : WRITERS + 1);
  if (how === 'revoke') {
    // Some commit before the revocation; the rest after it.
    const order = shuffle(tagged.map((r) => r.tag));
    const before = order.splice(0, Math.floor(rand() * WRITERS));
    try {
      hold.release(before);
      await Promise.all(before.map((tag) => requests.get(tag)));
      await req().post(`/revoke-all/${user}`).expect(200, { revoked: 1 });
    } finally {
      // Never leave requests held: a failed revoke still lets the others answer.
      hold.release(order);
    }
    for (const { tag } of tagged) {
      const res = await requests.get(tag)!;
      const after = !before.includes(tag);
      if (after && res.status !== 409) t.other++;
      if (!after && res.status !== 200) t.other++;
      if (cookiePair(res, COOKIE) !== undefined) t.cookiesReplaced++;
      if (after) t.conflicts++;
    }
    t.runs++;
    const old = await req().get('/state').set('Cookie', oldPair);
    if (!old.body.isNew || Object.keys(old.body.data ?? {}).length > 0) t.retiredAlive++;
    return;
  }
  // Released in a random order, in random slices with a turn of the event loop between them, so
  // commits land on both sides of the retirement whatever each route's own path length.
  const order = shuffle(tagged.map((r) => r.tag));
  while (order.length > 0) {
    hold.release(order.splice(0, 1 + Math.floor(rand() * 40)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const responses = new Map<string, Response>();
  for (const [tag, pending] of requests) responses.set(tag, await pending);

  const retiring = responses.get(how)!;
  const newPair = how === 'regenerate' && retiring.status === 200 ? cookiePair(retiring, COOKIE) : undefined;
  const final = newPair ? (await req().get('/state').set('Cookie', newPair)).body : undefined;
  const old = await req().get('/state').set('Cookie', oldPair);
  t.runs++;
  if (!old.body.isNew || Object.keys(old.body.data ?? {}).length > 0) t.retiredAlive++;
  for (const { tag, kind, key } of tagged) {
    const res = responses.get(tag)!;
    if (kind === 'retire') {
      if (res.status !== 200) unexpected(t, tag, res);
      continue;
    }
    if (cookiePair(res, COOKIE) !== undefined) t.cookiesReplaced++;
    if (res.status !== 200 && res.status !== 409) {
      unexpected(t, tag, res);
      continue;
    }
    const acked = res.status === 200;
    if (!acked) t.conflicts++;
    if (final === undefined) continue; // destroy(): the client ends with no session
    const data = final.data as Record<string, unknown>;
    const flash = final.flash as Record<string, unknown>;
    const kept =
      kind === 'set'
        ? Object.hasOwn(data, key)
        : kind === 'delete'
          ? !Object.hasOwn(data, key)
          : Object.hasOwn(flash, key);
    if (!acked) {
      if (kept) t.conflictsKept++;
    } else if (kind === 'set') {
      t.setsAcked++;
      if (kept) t.setsKept++;
    } else if (kind === 'delete') {
      t.deletesAcked++;
      if (!kept) t.deletesUndone++;
    } else {
      t.flashesAcked++;
      if (kept) t.flashesKept++;
    }
  }
}

/** A status other than 200 or 409: counted, and the first few printed. */
function unexpected(t: Tally, tag: string, res: Response): void {
  if (t.other++ < 3) figure(`unexpected: ${tag} answered ${res.status} ${JSON.stringify(res.body)}`);
}

function report(label: string, how: string, t: Tally): void {
  const line =
    how === 'regenerate'
      ? `sets kept ${t.setsKept}/${t.setsAcked} acknowledged, deletes undone ${t.deletesUndone}/${t.deletesAcked}, ` +
        `flashes kept ${t.flashesKept}/${t.flashesAcked}, 409 ${t.conflicts} (kept anyway ${t.conflictsKept}), `
      : `409 ${t.conflicts}, `;
  figure(
    `race ${label} ${how}: ${t.runs} run(s) of ${WRITERS + 1} requests: ${line}other statuses ${t.other}, ` +
      `retired id alive after ${t.retiredAlive}/${t.runs} run(s), cookies replaced ${t.cookiesReplaced}`,
  );
}

const drivers = stressDrivers();
afterAll(async () => {
  for (const driver of drivers) await driver.cleanup();
});

describe.each(drivers)('retirement race, $name', (driver) => {
  describe.each(stressPlatforms)('on %s', (platform) => {
    let app: App;
    let req: Client;
    const logger = new RecordingLogger();
    beforeAll(async () => {
      app = await createApp(platform, sessionApp(driver.options()), logger);
      req = await listening(app);
    });
    afterAll(() => app.close());

    it.each(['regenerate', 'destroy', 'revoke'] as const)(
      `200 overlapping requests with one %s(): every 2xx kept, every 409 kept nothing, the old id dead`,
      async (how) => {
        const t = tally();
        for (let run = 0; run < RUNS; run++) await race(req, how, t);
        report(`${driver.name} on ${platform}`, how, t);
        for (const line of logger.errors()) figure(`logged: ${line.split('\n')[0]}`);
        expect(logger.errors()).toEqual([]);
        expect(t.other).toBe(0);
        expect(t.retiredAlive).toBe(0);
        expect(t.cookiesReplaced).toBe(0);
        expect(t.setsKept).toBe(t.setsAcked);
        expect(t.deletesUndone).toBe(0);
        expect(t.flashesKept).toBe(t.flashesAcked);
        expect(t.conflictsKept).toBe(0);
        if (how === 'regenerate') expect(t.setsAcked + t.deletesAcked + t.flashesAcked).toBeGreaterThan(0);
      },
    );
  });
});
