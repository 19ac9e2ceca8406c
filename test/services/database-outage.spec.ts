import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { RECOVERY_QUIET } from '../../lib/drivers/store-health.js';
import { cookiePair, createApp, http } from '../support/app.js';
import { ONLY_DATE } from '../support/fixtures.js';
import { RecordingLogger } from '../support/logger.js';
import { testDriver } from '../support/drivers.js';
import { sessionApp } from '../support/session-app.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const databases = [testDriver('postgres'), testDriver('mariadb')];

describe.each(databases)('database driver when $name goes down and comes back', (driver) => {
  let proxy: TcpProxy;
  let app: INestApplication;
  const logger = new RecordingLogger();
  let pair: string;

  afterEach(() => {
    jest.useRealTimers();
  });

  beforeAll(async () => {
    proxy = await TcpProxy.start(driver.url!);
    app = await createApp('express', sessionApp(driver.options(proxy.url)), logger);
  });
  afterAll(async () => {
    await app.close();
    await proxy.down();
    await driver.cleanup();
  });

  it('works while the database is up', async () => {
    const res = await http(app).post('/set').send({ userId: 1 }).expect(200);
    pair = cookiePair(res, 'nest_session')!;
    await http(app).get('/get/userId').set('Cookie', pair).expect(200, { value: 1, has: true });
  });

  it('answers 503 SESSION_STORE_UNAVAILABLE to requests that use the session, logged once for the outage', async () => {
    await proxy.down();
    for (let i = 0; i < 5; i++) {
      const res = await http(app).get('/get/userId').set('Cookie', pair).expect(503);
      expect(res.body.message).toMatch(
        /^SESSION_STORE_UNAVAILABLE: the 'database' session store cannot be reached/,
      );
    }
    await http(app).post('/set').send({ fresh: true }).expect(503);
    expect(logger.count('error', "The 'database' session store is unavailable")).toBe(1);
  });

  it('keeps serving routes that do not touch the session, with or without a cookie', async () => {
    await http(app).get('/untouched').set('Cookie', pair).expect(200, 'ok');
    await http(app).get('/untouched').expect(200, 'ok');
  });

  it('works again once the database is back, and says so once', async () => {
    await proxy.up();
    // "Available again" is said once the store has answered for RECOVERY_QUIET with no failure.
    jest.useFakeTimers({ doNotFake: [...ONLY_DATE] });
    jest.setSystemTime(Date.now() + RECOVERY_QUIET);
    await http(app).get('/get/userId').set('Cookie', pair).expect(200, { value: 1, has: true });
    await http(app).post('/set').set('Cookie', pair).send({ after: true }).expect(200);
    await http(app).get('/get/after').set('Cookie', pair).expect(200, { value: true, has: true });
    expect(logger.count('log', "The 'database' session store is available again")).toBe(1);
    expect(logger.count('error', "The 'database' session store is unavailable")).toBe(1);
  });

  it('starts once the database is reachable when it was down at first use', async () => {
    await proxy.down();
    const late = await createApp('express', sessionApp(driver.options(proxy.url)));
    try {
      await http(late).post('/set').send({ a: 1 }).expect(503);
      await http(late).get('/untouched').expect(200, 'ok');
      await proxy.up();
      const res = await http(late).post('/set').send({ a: 1 }).expect(200);
      await http(late)
        .get('/get/a')
        .set('Cookie', cookiePair(res, 'nest_session')!)
        .expect(200, { value: 1, has: true });
    } finally {
      await late.close();
    }
  });
});
