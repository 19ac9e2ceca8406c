import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { SessionManager, type SessionStore } from 'nest-session';
import { Keyring } from '../../lib/crypto/keyring.js';
import { cookiePair, createApp } from '../support/app.js';
import { sessionApp } from '../support/session-app.js';
import {
  FULL,
  figure,
  pool,
  random,
  rejectionCounter,
  stressDrivers,
  stressPlatforms,
  type App,
  type Client,
  listening,
} from './support.js';

jest.setTimeout(FULL ? 600_000 : 60_000);

const COOKIE = 'nest_session';
const COUNT = FULL ? 5_000 : 500;
const rand = random();
/** Characters a Cookie header can carry in a value. */
const SAFE = "!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~";
const other = new Keyring(['another-secret-that-is-long-enough-0123456789']);

function randomText(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += SAFE[Math.floor(rand() * SAFE.length)];
  return s;
}

/** A cookie value whose signature cannot verify: random, truncated, altered, or signed with another key. */
function badCookie(valid: string, otherValid: string): { kind: string; value: string } {
  const dot = valid.lastIndexOf('.');
  switch (Math.floor(rand() * 8)) {
    case 0:
      return { kind: 'random', value: randomText(Math.floor(rand() * 120)) };
    case 1:
      return { kind: 'random id.signature', value: `${randomText(43)}.${randomText(43)}` };
    case 2:
      return { kind: 'truncated', value: valid.slice(0, Math.floor(rand() * (valid.length - 1))) };
    case 3: {
      // One character of the id changed (the signature's last character carries padding bits: skipped).
      const at = Math.floor(rand() * dot);
      const c = valid[at] === 'A' ? 'B' : 'A';
      return { kind: 'altered id', value: valid.slice(0, at) + c + valid.slice(at + 1) };
    }
    case 4: {
      const at = dot + 1 + Math.floor(rand() * (valid.length - dot - 2));
      const c = valid[at] === 'A' ? 'B' : 'A';
      return { kind: 'altered signature', value: valid.slice(0, at) + c + valid.slice(at + 1) };
    }
    case 5:
      return { kind: 'other secret', value: other.sign(COOKIE, randomBytes(32).toString('base64url')) };
    case 6:
      // The id of one session with the signature of another.
      return {
        kind: 'swapped signature',
        value: valid.slice(0, dot) + otherValid.slice(otherValid.lastIndexOf('.')),
      };
    default:
      return { kind: 'oversized', value: valid + randomText(4_000 + Math.floor(rand() * 4_000)) };
  }
}

/** The valid cookie spelled otherwise: what a client or proxy may send. Never a 5xx. */
function respelled(valid: string): { kind: string; header: string } {
  switch (Math.floor(rand() * 6)) {
    case 0:
      return { kind: 'quoted', header: `${COOKIE}="${valid}"` };
    case 1:
      return {
        kind: 'percent-encoded',
        header: `${COOKIE}=${valid.replace(/[A-Za-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
      };
    case 2:
      return { kind: 'padded', header: `${COOKIE}= ${valid} ` };
    case 3:
      return { kind: 'twice', header: `${COOKIE}=${randomText(20)}; ${COOKIE}=${valid}` };
    case 4:
      return { kind: 'upper-case name', header: `${COOKIE.toUpperCase()}=${valid}` };
    default:
      return { kind: 'base64 padding', header: `${COOKIE}=${valid}==` };
  }
}

/** Counts the store's reads: get(), and getNow() on a synchronous store. */
function countReads(store: SessionStore): { reads: () => number; restore: () => void } {
  const spies = (['get', 'getNow'] as const)
    .filter((m) => typeof (store as unknown as Record<string, unknown>)[m] === 'function')
    .map((m) => jest.spyOn(store as unknown as Record<string, (id: string) => unknown>, m));
  return {
    reads: () => spies.reduce((n, s) => n + s.mock.calls.length, 0),
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}

const drivers = stressDrivers();
afterAll(async () => {
  for (const driver of drivers) await driver.cleanup();
});

describe.each(drivers)('malformed cookies, $name', (driver) => {
  describe.each(stressPlatforms)('on %s', (platform) => {
    let app: App;
    let req: Client;
    let valid: string;
    let otherValid: string;
    beforeAll(async () => {
      app = await createApp(platform, sessionApp(driver.options()));
      req = await listening(app);
      const a = await req().post('/set').send({ secret: 'mine' }).expect(200);
      const b = await req().post('/set').send({ secret: 'theirs' }).expect(200);
      valid = cookiePair(a, COOKIE)!.slice(COOKIE.length + 1);
      otherValid = cookiePair(b, COOKIE)!.slice(COOKIE.length + 1);
    });
    afterAll(() => app.close());

    it(`${COUNT} cookies whose signature fails: no 5xx, no store read, never a session adopted`, async () => {
      const store = app.get(SessionManager).store(driver.options().driver as string);
      const rejections = rejectionCounter();
      const reads = countReads(store);
      const statuses = new Map<number, number>();
      let adopted = 0;
      const started = performance.now();
      try {
        await pool(COUNT, 20, async (i) => {
          const { value } = badCookie(valid, otherValid);
          const write = i % 4 === 0;
          const pending = write ? req().post('/set').send({ n: i }) : req().get('/state');
          const res = await pending.set('Cookie', `${COOKIE}=${value}`);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const data = write ? res.body : res.body.data;
          if (data?.secret !== undefined || (!write && res.body.isNew !== true)) adopted++;
        });
      } finally {
        reads.restore();
        rejections.off();
      }
      const ms = performance.now() - started;
      const fives = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
      figure(
        `malformed ${driver.name} on ${platform}: ${COUNT} bad-signature cookies in ${ms.toFixed(0)} ms: ` +
          `statuses ${JSON.stringify(Object.fromEntries(statuses))}, 5xx ${fives}, store reads ${reads.reads()}, ` +
          `adopted ${adopted}, unhandled rejections ${rejections.count()}`,
      );
      expect(fives).toBe(0);
      expect(reads.reads()).toBe(0);
      expect(adopted).toBe(0);
      expect(rejections.count()).toBe(0);
    });

    it('re-spelled cookies: no 5xx, never another session than the one signed', async () => {
      const rejections = rejectionCounter();
      const statuses = new Map<number, number>();
      let foreign = 0;
      let adopted = 0;
      try {
        await pool(Math.ceil(COUNT / 5), 20, async () => {
          const { header } = respelled(valid);
          const res = await req().get('/state').set('Cookie', header);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.body.isNew === false) adopted++;
          if (res.body.data?.secret !== undefined && res.body.data.secret !== 'mine') foreign++;
        });
      } finally {
        rejections.off();
      }
      const fives = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
      figure(
        `re-spelled ${driver.name} on ${platform}: ${Math.ceil(COUNT / 5)} cookies: statuses ` +
          `${JSON.stringify(Object.fromEntries(statuses))}, opened the signed session ${adopted}, ` +
          `another session ${foreign}, unhandled rejections ${rejections.count()}`,
      );
      expect(fives).toBe(0);
      expect(foreign).toBe(0);
      expect(rejections.count()).toBe(0);
    });
  });
});
