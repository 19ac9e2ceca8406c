import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import request from 'supertest';
import { platforms, type Platform } from '../support/app.js';
import { readmeDirectory, sectionFiles, writeFiles } from '../support/readme.js';
import { ScriptProcess } from '../support/script-process.js';
import { SECRET } from '../support/session-app.js';

const CHILD = fileURLToPath(new URL('../support/graphql-app-child.ts', import.meta.url));

// The README's GraphQL example as written (src/posts.resolver.ts, src/app.module.ts and its Fastify
// variant), with a few probes, one app per adapter: Apollo on Express, Mercurius on Fastify. Both
// start at once: each is a process of its own.
const apps = new Map<Platform, ScriptProcess>();
const directories: Array<ReturnType<typeof readmeDirectory>> = [];
beforeAll(async () => {
  await Promise.all(
    platforms.map(async (platform) => {
      const directory = readmeDirectory();
      directories.push(directory);
      writeFiles(directory.path, sectionFiles('GraphQL', platform === 'fastify' ? 'Fastify' : undefined));
      const app = await ScriptProcess.start(CHILD, {
        cwd: directory.path,
        args: [join(directory.path, 'src', 'app.module.ts'), platform],
        env: { SESSION_SECRET: SECRET, NODE_ENV: 'production' },
      });
      apps.set(platform, app);
    }),
  );
}, 60_000);
afterAll(async () => {
  await Promise.all([...apps.values()].map((app) => app.stop()));
  for (const directory of directories) directory.remove();
});

describe.each(platforms)("the README's GraphQL app on %s", (platform) => {
  /** A browser: one cookie jar; `gql` posts an operation and returns its `data` (or its errors). */
  const browser = () => {
    const jar = request.agent(apps.get(platform)!.url);
    const gql = async (query: string) => {
      const res = await jar.post('/graphql').send({ query }).expect(200);
      return res.body as { data?: Record<string, any> | null; errors?: Array<{ message: string }> };
    };
    return { jar, gql };
  };
  const signedIn = async () => {
    const b = browser();
    expect(await b.gql('mutation { signIn(name: "ada") }')).toEqual({ data: { signIn: 'ada' } });
    return b;
  };

  it("a mutation's flash reaches the next operation that reads it, exactly once", async () => {
    const { jar, gql } = await signedIn();
    expect((await gql('mutation { publish(title: "Hi") { title } }')).data).toEqual({
      publish: { title: 'Hi' },
    });
    // Operations that read no flash leave it, sent with POST or with GET (the URL has a query string).
    expect((await gql('{ whoami }')).data).toEqual({ whoami: 'ada' });
    const viaGet = await jar
      .get('/graphql')
      .query({ query: '{ whoami }' })
      .set('apollo-require-preflight', 'true')
      .expect(200);
    expect(viaGet.body.data).toEqual({ whoami: 'ada' });
    expect((await gql('{ success }')).data).toEqual({ success: '"Hi" published' });
    expect((await gql('{ success }')).data).toEqual({ success: null });
  });

  it('@KeepFlash() on a resolver reads the flash without consuming it', async () => {
    const { gql } = await signedIn();
    await gql('mutation { publish(title: "Kept") { title } }');
    expect((await gql('{ banner }')).data).toEqual({ banner: '"Kept" published' });
    expect((await gql('{ banner }')).data).toEqual({ banner: '"Kept" published' });
    expect((await gql('{ success }')).data).toEqual({ success: '"Kept" published' });
    expect((await gql('{ banner }')).data).toEqual({ banner: null });
  });

  it('a guard on a resolver reads the session', async () => {
    const { gql } = browser();
    const refused = await gql('mutation { publish(title: "Nope") { title } }');
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0].message).toBe('Forbidden resource');
    expect((await gql('mutation { signIn(name: "bob") }')).data).toEqual({ signIn: 'bob' });
    expect((await gql('mutation { publish(title: "Yes") { author } }')).data).toEqual({
      publish: { author: 'bob' },
    });
  });

  it('field resolvers see the session of their operation, changes of the same request included', async () => {
    const { gql } = await signedIn();
    expect((await gql('mutation { publish(title: "Mine") { author mine } }')).data).toEqual({
      publish: { author: 'ada', mine: true },
    });
    expect((await gql('mutation { probe(value: "v1") { value sameSession } }')).data).toEqual({
      probe: { value: 'v1', sameSession: true },
    });
    expect((await browser().gql('{ whoami }')).data).toEqual({ whoami: null });
  });

  it("keeps HTTP's rule on the app's other routes: a 200 page consumes the flash it saw", async () => {
    const { jar, gql } = await signedIn();
    await gql('mutation { publish(title: "Page") { title } }');
    await jar.get('/flashes').expect(200, { success: '"Page" published' });
    expect((await gql('{ success }')).data).toEqual({ success: null });
  });
});
