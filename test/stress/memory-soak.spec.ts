import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { SessionManager } from 'nest-session';
import { MemoryStore } from '../../lib/stores/memory.store.js';
import { cookiePair, createApp } from '../support/app.js';
import { SECRET, sessionApp } from '../support/session-app.js';
import { FULL, figure, pool, random, type App, type Client, listening } from './support.js';

jest.setTimeout(FULL ? 600_000 : 60_000);

// Short mode: bounds small enough for 1 000 sessions to pass both; full mode: the defaults' scale.
const MAX = FULL ? 5_000 : 200;
const MAX_BYTES = FULL ? 2 * 1024 * 1024 : 64 * 1024;
const rand = random();

describe('memory driver soak past memory.max and memory.maxBytes', () => {
  let app: App;
  let req: Client;
  let store: MemoryStore;
  beforeAll(async () => {
    app = await createApp(
      'express',
      sessionApp({ driver: 'memory', secret: SECRET, memory: { max: MAX, maxBytes: MAX_BYTES } }),
    );
    req = await listening(app);
    store = app.get(SessionManager).store('memory') as MemoryStore;
  });
  afterAll(() => app.close());

  /** Writes `count` new sessions through HTTP; the store's size and bytes, sampled after every write. */
  async function soak(count: number, body: () => Record<string, unknown>) {
    let peakSize = 0;
    let peakBytes = 0;
    let failures = 0;
    let last = '';
    const started = performance.now();
    await pool(count, 16, async () => {
      const res = await req().post('/set').send(body());
      if (res.status !== 200) failures++;
      else last = cookiePair(res, 'nest_session')!;
      peakSize = Math.max(peakSize, store.size);
      peakBytes = Math.max(peakBytes, store.bytes);
    });
    const ms = performance.now() - started;
    return { peakSize, peakBytes, failures, last, ms };
  }

  it('large sessions: bounded by bytes, the newest session kept', async () => {
    const count = FULL ? 20_000 : 1_000;
    const r = await soak(count, () => ({ payload: 'x'.repeat(300 + Math.floor(rand() * 700)) }));
    figure(
      `soak memory, ${count} sessions of 0.3-1 KB, max ${MAX}, maxBytes ${MAX_BYTES}: peak ${r.peakSize} ` +
        `sessions, ${r.peakBytes} bytes; end ${store.size} sessions, ${store.bytes} bytes; ` +
        `${(count / (r.ms / 1000)).toFixed(0)} req/s; failures ${r.failures}`,
    );
    expect(r.failures).toBe(0);
    expect(r.peakBytes).toBeLessThanOrEqual(MAX_BYTES);
    expect(r.peakSize).toBeLessThan(MAX);
    // Leveled off near the bound, not emptied.
    expect(store.bytes).toBeGreaterThan(MAX_BYTES * 0.9);
    await req()
      .get('/get/payload')
      .set('Cookie', r.last)
      .expect(200)
      .expect((res) => {
        expect(res.body.has).toBe(true);
      });
  });

  it('small sessions: bounded by count', async () => {
    const count = FULL ? 20_000 : 1_000;
    const r = await soak(count, () => ({ n: Math.floor(rand() * 1000) }));
    figure(
      `soak memory, ${count} sessions of ~60 bytes, max ${MAX}, maxBytes ${MAX_BYTES}: peak ${r.peakSize} ` +
        `sessions, ${r.peakBytes} bytes; end ${store.size} sessions, ${store.bytes} bytes; ` +
        `${(count / (r.ms / 1000)).toFixed(0)} req/s; failures ${r.failures}`,
    );
    expect(r.failures).toBe(0);
    expect(r.peakSize).toBeLessThanOrEqual(MAX);
    expect(r.peakBytes).toBeLessThanOrEqual(MAX_BYTES);
    expect(store.size).toBe(MAX);
    await req()
      .get('/get/n')
      .set('Cookie', r.last)
      .expect(200)
      .expect((res) => {
        expect(res.body.has).toBe(true);
      });
  });
});
