import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import session from 'express-session';
import { fromExpressSessionStore } from 'nest-session';
import { agent, createApp, platforms } from '../support/app.js';
import { sessionConformance } from '../support/conformance.js';
import { SECRET, sessionApp } from '../support/session-app.js';
import { extendModule } from '../support/stores.js';

/**
 * express-session's MemoryStore through the adapter, end to end. The adapter keeps every case of the
 * conformance suite in one process, overlapping change sets included (it runs one operation per id
 * at a time); what whole-record stores give up across processes is in its unit spec. On Express
 * only: a store never sees the adapter, and the migration specs run it on Fastify too.
 */
sessionConformance('an express-session store through fromExpressSessionStore()', {
  options: { driver: 'express-store', secret: SECRET },
  imports: () => [extendModule('express-store', fromExpressSessionStore(new session.MemoryStore()))],
  serverSide: true,
  platforms: ['express'],
});

describe.each(platforms)('an express-session store that goes down, on %s', (platform) => {
  /** A MemoryStore whose calls fail while it is down, as a database's would. */
  class DownStore extends session.MemoryStore {
    up = true;
    override get(id: string, cb: (err: unknown, s?: session.SessionData | null) => void) {
      if (this.up) return super.get(id, cb);
      setImmediate(() => cb(new Error('connect ECONNREFUSED 127.0.0.1:27017')));
    }
    override set(id: string, s: session.SessionData, cb?: (err?: unknown) => void) {
      if (this.up) return super.set(id, s, cb);
      setImmediate(() => cb?.(new Error('connect ECONNREFUSED 127.0.0.1:27017')));
    }
  }
  const store = new DownStore();
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp(
      platform,
      sessionApp({ driver: 'mongo', secret: SECRET }, [
        extendModule('mongo', fromExpressSessionStore(store)),
      ]),
    );
  });
  afterAll(() => app.close());

  it('answers 503 where the session is used (a callback error), and recovers with the store', async () => {
    const a = agent(app);
    await a.post('/set').send({ userId: 1 }).expect(200);
    store.up = false;
    const down = await a.get('/state').expect(503);
    expect(down.body.message).toMatch(/SESSION_STORE_UNAVAILABLE.*'mongo'/);
    await a.get('/untouched').expect(200, 'ok');
    store.up = true;
    const back = await a.get('/state').expect(200);
    expect(back.body.data).toEqual({ userId: 1 });
  });
});
