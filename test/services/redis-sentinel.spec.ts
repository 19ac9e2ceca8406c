import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { once } from 'node:events';
import { SessionManager } from 'nest-session';
import type { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { cookiePair, createApp, http } from '../support/app.js';
import { testDriver } from '../support/drivers.js';
import { serviceUrl } from '../support/services.js';
import { sessionApp } from '../support/session-app.js';
import { SignInModule } from '../support/sign-in.js';

const sentinels = serviceUrl('NEST_SESSION_REDIS_SENTINELS')
  .split(',')
  .map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
  });
const name = serviceUrl('NEST_SESSION_REDIS_SENTINEL_NAME');
// redis+sentinel://host:port,.../name, a key prefix of its own for each app.
const sentinelDriver = testDriver('redis-sentinel');

/** Checks `check` until it gives a value: at most `tries` times, `every` ms apart. */
async function poll<T>(
  what: string,
  check: () => Promise<T | undefined>,
  tries = 150,
  every = 100,
): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  throw new Error(`gave up waiting until ${what}${last ? `: ${String(last)}` : ''}`);
}

/** The port of the master the Sentinels announce. */
async function masterPort(sentinel: Redis): Promise<number> {
  const [, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
  return Number(port);
}

/** Resolves once the master has a replica in sync and the Sentinels count it as one that can take over. */
async function replicated(sentinel: Redis): Promise<void> {
  await poll(
    'the master has a replica in sync',
    async () => {
      const master = new Redis({
        host: sentinels[0].host,
        port: await masterPort(sentinel),
        lazyConnect: true,
      });
      try {
        const info = await master.info('replication');
        if (!/^role:master/m.test(info) || !/^slave\d+:.*state=online/m.test(info)) return undefined;
      } finally {
        master.disconnect();
      }
      const replicas = (await sentinel.call('SENTINEL', 'replicas', name)) as string[][];
      const ready = replicas.some((flat) => {
        const fields = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
        return fields.flags === 'slave' && fields['master-link-status'] === 'ok';
      });
      return ready ? true : undefined;
    },
    400,
  ); // after a failover the old master becomes a replica when the Sentinels next check it: up to 40 s loaded
}

/** The port of the Redis server the app's own client is connected to now. */
async function appServerPort(app: INestApplication): Promise<number> {
  const client = await (app.get(SessionManager).store() as RedisStore).client();
  const info = await client.info('server');
  return Number(/^tcp_port:(\d+)/m.exec(info)![1]);
}

/** Signs users in and out, and sets keys, until stopped: what the app acknowledged. */
function churn(app: INestApplication) {
  const acked = { signedOut: [] as string[], keys: [] as string[], setsCookie: '' };
  let running = true;
  const done = (async () => {
    const first = await http(app).post('/set').send({ start: true }).expect(200);
    acked.setsCookie = cookiePair(first, 'nest_session')!;
    for (let i = 0; running; i++) {
      const set = await http(app)
        .post('/set')
        .set('Cookie', acked.setsCookie)
        .send({ [`k${i}`]: i });
      if (set.status === 200) acked.keys.push(`k${i}`);
      const signIn = await http(app)
        .post('/sign-in')
        .send({ userId: i + 1 });
      if (signIn.status !== 200) continue;
      const pair = cookiePair(signIn, 'nest_session')!;
      const signOut = await http(app).post('/destroy').set('Cookie', pair);
      if (signOut.status === 200) acked.signedOut.push(pair);
    }
  })();
  return {
    acked,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** Of what `churn` acknowledged, what a failover lost. */
async function lost(app: INestApplication, acked: ReturnType<typeof churn>['acked']) {
  let signOuts = 0;
  for (const pair of acked.signedOut) {
    const res = await http(app).get('/whoami').set('Cookie', pair).expect(200);
    if (res.body.userId !== null) signOuts++;
  }
  const state = await http(app).get('/state').set('Cookie', acked.setsCookie).expect(200);
  const keys = acked.keys.filter((key) => !(key in state.body.data)).length;
  return { signOuts: `${signOuts} of ${acked.signedOut.length}`, sets: `${keys} of ${acked.keys.length}` };
}

describe('redis driver on a Sentinel group (redis+sentinel://), through a failover', () => {
  let sentinel: Redis;
  let events: Redis;
  let waiting: INestApplication;
  let notWaiting: INestApplication;

  beforeAll(async () => {
    sentinel = new Redis({ ...sentinels[0], enableReadyCheck: false });
    events = new Redis({ ...sentinels[0], enableReadyCheck: false });
    await replicated(sentinel);
    const options = sentinelDriver.options();
    waiting = await createApp('express', sessionApp(options, [SignInModule]));
    notWaiting = await createApp(
      'express',
      sessionApp({ ...options, redis: { ...options.redis, waitForReplicas: 0 } }, [SignInModule]),
    );
  });
  afterAll(async () => {
    await waiting?.close();
    await notWaiting?.close();
    await sentinelDriver.cleanup();
    events.disconnect();
    sentinel.disconnect();
  });

  it('closes its connections to the Sentinels on shutdown, so the process can exit', async () => {
    const subscribers = async () => {
      let count = 0;
      for (const at of sentinels) {
        const one = new Redis({ ...at, enableReadyCheck: false });
        const list = (await one.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
        count += list.split('\n').filter(Boolean).length;
        one.disconnect();
      }
      return count;
    };
    const before = await subscribers();
    const app = await createApp('express', sessionApp(sentinelDriver.options()));
    await http(app).post('/set').send({ a: 1 }).expect(200);
    // Following a promotion as Sentinel announces it: the client listens on every Sentinel.
    await poll('the client listens on the Sentinels', async () =>
      (await subscribers()) === before + sentinels.length ? true : undefined,
    );
    await app.close();
    await poll('the Sentinels see the client go', async () =>
      (await subscribers()) === before ? true : undefined,
    );
  }, 20_000);

  it('keeps an acknowledged sign-out across a failover, and signs in on the new master', async () => {
    const before = await masterPort(sentinel);
    const signIn = await http(waiting).post('/sign-in').send({ userId: 7 }).expect(200);
    const signedIn = cookiePair(signIn, 'nest_session')!;
    await http(waiting).get('/whoami').set('Cookie', signedIn).expect(200, { userId: 7 });
    await http(waiting).post('/destroy').set('Cookie', signedIn).expect(200);
    await http(waiting).get('/whoami').set('Cookie', signedIn).expect(200, { userId: null });

    // Writes in flight while the replica is promoted, with and without WAIT on sign-in and sign-out.
    const load = [churn(waiting), churn(notWaiting)];
    await events.subscribe('+switch-master');
    const switched = once(events, 'message');
    await poll('the load has started', async () => (load[0].acked.keys.length > 5 ? true : undefined));
    expect(await sentinel.call('SENTINEL', 'FAILOVER', name)).toBe('OK');
    let timer: NodeJS.Timeout | undefined;
    const [, message] = (await Promise.race([
      switched,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no +switch-master within 20 s')), 20_000);
      }),
    ]).finally(() => clearTimeout(timer))) as [string, string];
    const after = Number(message.split(' ')[4]);
    expect(after).not.toBe(before);
    expect(await masterPort(sentinel)).toBe(after);
    for (const app of [waiting, notWaiting]) {
      await poll('the app follows the new master', async () =>
        (await appServerPort(app)) === after ? true : undefined,
      );
    }
    await Promise.all(load.map((l) => l.stop()));
    const figures = {
      withWait: await lost(waiting, load[0].acked),
      withoutWait: await lost(notWaiting, load[1].acked),
    };
    console.log(`Acknowledged writes a Sentinel failover lost: ${JSON.stringify(figures)}`);

    // The sign-out acknowledged before the failover holds on the new master.
    await http(waiting).get('/whoami').set('Cookie', signedIn).expect(200, { userId: null });
    await http(waiting).post('/set').set('Cookie', signedIn).send({ userId: 7 });
    await http(waiting).get('/whoami').set('Cookie', signedIn).expect(200, { userId: null });

    // Sign-in and sign-out on the new master, once the old one replicates from it.
    await replicated(sentinel);
    const again = await http(waiting).post('/sign-in').send({ userId: 8 }).expect(200);
    const pair = cookiePair(again, 'nest_session')!;
    await http(waiting).get('/whoami').set('Cookie', pair).expect(200, { userId: 8 });
    await http(waiting).post('/destroy').set('Cookie', pair).expect(200);
    await http(waiting).get('/whoami').set('Cookie', pair).expect(200, { userId: null });
  }, 100_000);
});
