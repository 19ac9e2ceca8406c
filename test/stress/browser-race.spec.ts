import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Response } from 'supertest';
import { cookiePair, createApp } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { sessionApp } from '../support/session-app.js';
import { FULL, figure, random, stressDrivers, stressPlatforms, type Client, listening } from './support.js';

jest.setTimeout(FULL ? 600_000 : 120_000);

const COOKIE = 'nest_session';
const REQUESTS = 200;
/** Requests in flight at once, as a browser's page of fetches. */
const WIDTH = 24;
const RUNS = FULL ? 10 : 2;
const rand = random();

interface Tally {
  acked: { set: number; delete: number; flash: number };
  lost: { set: number; delete: number; flash: number };
  conflicts: number;
  other: number;
  ids: Set<string>;
}

/**
 * A browser: one cookie jar that takes every Set-Cookie as responses arrive, and 200 requests on one
 * session, at most WIDTH in flight, each sent with the cookie the jar holds when it leaves; request
 * #100 regenerates. Handlers wait a random number of event-loop turns between loading and changing
 * the session, so requests load the old id, the new one, or the old one after it was retired.
 */
async function browse(req: Client, t: Tally): Promise<void> {
  const seed: Record<string, unknown> = { warm: true };
  for (let i = 0; i < REQUESTS; i++) seed[`d${i}`] = i;
  let jar = cookiePair(await req().post('/set').send(seed).expect(200), COOKIE)!;
  t.ids.add(jar);
  const kinds = ['set', 'set', 'delete', 'flash'] as const;
  const plan = Array.from({ length: REQUESTS }, (_, i) => {
    const kind: (typeof kinds)[number] | 'regenerate' =
      i === REQUESTS / 2 ? 'regenerate' : kinds[i % kinds.length];
    const key = kind === 'delete' ? `d${i}` : kind === 'flash' ? `f${i}` : `k${i}`;
    return { kind, key };
  });
  const responses: Response[] = new Array(REQUESTS);
  let next = 0;
  await Promise.all(
    Array.from({ length: WIDTH }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const { kind, key } = plan[i];
        const turns = Math.floor(rand() * 8);
        const res = await req().post(`/turns/${kind}/${key}?turns=${turns}`).set('Cookie', jar);
        const pair = cookiePair(res, COOKIE);
        if (pair !== undefined) {
          jar = pair;
          t.ids.add(pair);
        }
        responses[i] = res;
      }
    }),
  );
  const final = (await req().get('/state').set('Cookie', jar)).body as {
    data: Record<string, unknown>;
    flash: Record<string, unknown>;
  };
  plan.forEach(({ kind, key }, i) => {
    const res = responses[i];
    if (res.status === 409) return void t.conflicts++;
    if (res.status !== 200) {
      if (t.other++ < 3)
        figure(`unexpected: ${kind} ${key} answered ${res.status} ${JSON.stringify(res.body)}`);
      return;
    }
    if (kind === 'regenerate') return;
    t.acked[kind]++;
    const kept =
      kind === 'set'
        ? Object.hasOwn(final.data, key)
        : kind === 'delete'
          ? !Object.hasOwn(final.data, key)
          : Object.hasOwn(final.flash, key);
    if (!kept) t.lost[kind]++;
  });
}

const drivers = stressDrivers();
afterAll(async () => {
  for (const driver of drivers) await driver.cleanup();
});

describe.each(drivers)('a browser on one session around regenerate(), $name', (driver) => {
  describe.each(stressPlatforms)('on %s', (platform) => {
    let app: Awaited<ReturnType<typeof createApp>>;
    let req: Client;
    const logger = new RecordingLogger();
    beforeAll(async () => {
      app = await createApp(platform, sessionApp(driver.options()), logger);
      req = await listening(app);
    });
    afterAll(() => app.close());

    it('keeps every change it acknowledged with a 2xx in the session the browser ends with', async () => {
      const t: Tally = {
        acked: { set: 0, delete: 0, flash: 0 },
        lost: { set: 0, delete: 0, flash: 0 },
        conflicts: 0,
        other: 0,
        ids: new Set(),
      };
      for (let run = 0; run < RUNS; run++) await browse(req, t);
      figure(
        `browser ${driver.name} on ${platform}: ${RUNS} run(s) of ${REQUESTS}: acknowledged and lost ` +
          `sets ${t.lost.set}/${t.acked.set}, deletes ${t.lost.delete}/${t.acked.delete}, flashes ` +
          `${t.lost.flash}/${t.acked.flash}; 409 ${t.conflicts}; other ${t.other}; session ids ${t.ids.size}`,
      );
      expect(logger.errors()).toEqual([]);
      expect(t.other).toBe(0);
      expect(t.lost).toEqual({ set: 0, delete: 0, flash: 0 });
      expect(t.acked.set + t.acked.delete + t.acked.flash).toBeGreaterThan(0);
      // The seeding session and one per run's regenerate().
      expect(t.ids.size).toBe(2 * RUNS);
    });
  });
});
