import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { agent, createApp, platforms } from '../support/app.js';
import { SECRET, sessionApp } from '../support/session-app.js';

describe.each(platforms)('smoke on %s', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp(platform, sessionApp({ secret: SECRET }));
  });
  afterAll(() => app.close());

  it('keeps a value between requests and flashes across a redirect', async () => {
    const a = agent(app);
    await a.post('/set').send({ userId: 7 }).expect(200);
    await a.get('/get/userId').expect(200, { value: 7, has: true });
    const r = await a.post('/flash-redirect').send({ success: 'hi' });
    expect(r.status).toBe(302);
    await a.get('/read-flash').expect(200, { success: 'hi', all: { success: 'hi' } });
    await a.get('/read-flash').expect(200, { success: null, all: {} });
  });
});
