import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { SessionManager, type SessionModuleOptions } from 'nest-session';
import type { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { agent, createApp, http, platforms, setCookies } from '../support/app.js';
import { testDriver } from '../support/drivers.js';
import { RecordingLogger } from '../support/logger.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { usersApp } from '../support/users-app.js';
import { usersConformance } from '../support/users-conformance.js';

const redis = testDriver('redis');
afterAll(() => redis.cleanup());

/** The cookie driver, each user's revocation record in Redis (through `via`, a proxy, when given). */
const options = (via?: string, users: SessionModuleOptions['users'] = {}): SessionModuleOptions => ({
  ...redis.options(via),
  driver: 'cookie',
  users: { revocationStore: 'redis', ...users },
});

usersConformance('cookie driver, revocation record in Redis', {
  options: () => options(),
  serverSide: false,
  limitRaces: true,
});

async function connected(app: INestApplication): Promise<void> {
  const client = await (app.get(SessionManager).store('redis') as RedisStore).client();
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
}

describe.each(platforms)(
  'the cookie driver when Redis, its record store, goes down and comes back, on %s',
  (platform) => {
    let proxy: TcpProxy;
    let app: INestApplication;
    const logger = new RecordingLogger();
    beforeAll(async () => {
      proxy = await TcpProxy.start(redis.url!);
      app = await createApp(platform, usersApp(options(proxy.url)), logger);
    });
    afterAll(async () => {
      await app.close();
      await proxy.close();
    });

    it('answers 503 where a signed-in session is used, never a silent "not revoked", and recovers', async () => {
      const user = `outage-${platform}-${process.pid}`;
      const laptop = agent(app);
      const signedIn = await laptop.post(`/users/sign-in/${user}`).expect(200);
      await proxy.down();
      for (let i = 0; i < 3; i++) {
        const down = await laptop.get('/users/me').expect(503);
        expect(down.body.message).toMatch(/^SESSION_STORE_UNAVAILABLE: the 'redis' session store/);
        expect(setCookies(down)).toEqual([]);
      }
      await laptop.get('/users/untouched').expect(200, 'ok');
      await http(app)
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(null));
      await agent(app).post(`/users/sign-in/${user}`).expect(503);
      await http(app).post(`/users/revoke/${user}/${signedIn.body.handle}`).expect(503);
      expect(logger.count('error', "The 'redis' session store is unavailable")).toBe(1);

      await proxy.up();
      await connected(app);
      await laptop
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(user));
      await http(app).post(`/users/revoke/${user}/${signedIn.body.handle}`).expect(200, { revoked: true });
      await laptop
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(null));
    }, 20_000);
  },
);

describe('users.maxPerUser on the cookie driver, sign-ins racing on Redis', () => {
  const apps: Record<'reject' | 'revoke-oldest', INestApplication[]> = { reject: [], 'revoke-oldest': [] };
  beforeAll(async () => {
    // Two processes' worth of apps on one Redis, as a deployment has them.
    for (const onLimit of ['reject', 'revoke-oldest'] as const) {
      const shared = options(undefined, { maxPerUser: 2, onLimit });
      for (const platform of platforms) apps[onLimit].push(await createApp(platform, usersApp(shared)));
    }
  });
  afterAll(async () => {
    for (const app of [...apps.reject, ...apps['revoke-oldest']]) await app.close();
  });

  it.each(['reject', 'revoke-oldest'] as const)(
    "'%s': however two sign-ins interleave, exactly the limit stays usable; a refused device is anonymous",
    async (onLimit) => {
      const [one, two] = apps[onLimit];
      for (let round = 0; round < 20; round++) {
        const user = `race-${onLimit}-${process.pid}-${round}`;
        const first = agent(one);
        await first.post(`/users/sign-in/${user}`).expect(200);
        const racing = [agent(one), agent(two)];
        const answers = await Promise.all(racing.map((d) => d.post(`/users/sign-in/${user}`)));
        for (const answer of answers)
          expect(onLimit === 'reject' ? [200, 409] : [200]).toContain(answer.status);
        const devices = [first, ...racing];
        const me = await Promise.all(devices.map((d) => d.get('/users/me').expect(200)));
        expect(me.filter((r) => r.body.userId === user)).toHaveLength(2);
        answers.forEach((answer, i) => {
          if (answer.status === 409) expect(me[i + 1].body.userId).toBe(null);
        });
        // 'revoke-oldest': the two new sign-ins stay, the first device goes.
        if (onLimit === 'revoke-oldest') expect(me[0].body.userId).toBe(null);
        await http(two).get(`/users/count/${user}`).expect(200, { count: 2 });
      }
    },
    30_000,
  );
});
