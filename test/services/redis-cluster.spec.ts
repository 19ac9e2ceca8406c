import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { createApp, http } from '../support/app.js';
import { sessionConformance } from '../support/conformance.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { RecordingLogger } from '../support/logger.js';
import { serviceUrl } from '../support/services.js';
import { sessionApp } from '../support/session-app.js';

const cluster = testDriver('redis-cluster');
const urls = serviceUrl('NEST_SESSION_REDIS_CLUSTER_URLS');
const prefix = `nest-session-test:${process.pid}:`;

afterAll(() => cluster.cleanup());

// redis.url with every master, comma-joined: the driver opens a Cluster client.
sessionConformance('redis driver on a Redis Cluster', conformanceOf(cluster));

describe('redis driver on one node of a Redis Cluster, as a single server', () => {
  const logger = new RecordingLogger();
  let app: INestApplication;
  let tagged: string;

  beforeAll(async () => {
    const [first] = urls.split(',');
    const node = new Redis(first);
    try {
      // A hash tag whose slot another master serves: every session key answers MOVED on this node.
      const id = ((await node.call('CLUSTER', 'MYID')) as string).trim();
      const slots = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
      const mine = slots.filter(([, , master]) => master[2] === id);
      const ownSlot = (slot: number) => mine.some(([from, to]) => slot >= from && slot <= to);
      let tag = 0;
      while (ownSlot(Number(await node.call('CLUSTER', 'KEYSLOT', `{${tag}}`)))) {
        tag++;
        if (tag > 100) throw new Error('no hash tag found outside the first node');
      }
      tagged = `{${tag}}${prefix}`;
    } finally {
      await node.quit();
    }
    const options = { ...cluster.options(), redis: { url: first, prefix: tagged } };
    app = await createApp('express', sessionApp(options), logger);
  });
  afterAll(() => app.close());

  it('answers 500 SESSION_STORE_MISCONFIGURED naming the fix (every node), logged once', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await http(app).post('/set').send({ a: i }).expect(500);
      expect(res.body.message).toMatch(
        /^SESSION_STORE_MISCONFIGURED: .*one node of a Redis Cluster: give every node, redis\.url: \[/,
      );
    }
    await http(app).get('/untouched').expect(200, 'ok');
    expect(logger.count('error', 'misconfigured')).toBe(1);
    expect(logger.count('error', 'MOVED')).toBe(1);
    expect(logger.count('error', 'unavailable')).toBe(0);
  });
});
