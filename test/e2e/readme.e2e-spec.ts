import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { SessionModule } from 'nest-session';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { setCookies } from '../support/app.js';
import { readmeDirectory, sectionFiles, writeFiles } from '../support/readme.js';
import { ScriptProcess } from '../support/script-process.js';
import { SECRET } from '../support/session-app.js';

// The README's apps, copied into a directory as a reader copies them and run as they are: main.ts
// in a process of its own (node main.ts, PORT=0), the rest in Jest. The testing section's apps are
// in readme-testing.e2e-spec.ts.

/** Each app's directory and process; every process starts at once, in the one beforeAll. */
const running = new Map<string, { directory: ReturnType<typeof readmeDirectory>; app?: ScriptProcess }>();
const apps: Record<string, { section: string; variant?: string; env: Record<string, string | undefined> }> = {
  express: { section: 'Add it to your app', env: { SESSION_SECRET: SECRET } },
  fastify: { section: 'Add it to your app', variant: 'Fastify', env: { SESSION_SECRET: SECRET } },
  config: { section: 'Add it to your app', variant: '@nestjs/config', env: { SESSION_SECRET: undefined } },
  example: { section: 'An example app', env: { SESSION_SECRET: SECRET } },
};

beforeAll(async () => {
  await Promise.all(
    Object.entries(apps).map(async ([name, { section, variant, env }]) => {
      const directory = readmeDirectory();
      running.set(name, { directory });
      writeFiles(directory.path, sectionFiles(section, variant));
      if (name === 'config') writeFileSync(join(directory.path, '.env'), `SESSION_SECRET=${SECRET}\n`);
      // In production a missing secret stops start-up: each app must find the one it was given.
      const app = await ScriptProcess.start(join(directory.path, 'src', 'main.ts'), {
        cwd: directory.path,
        env: { NODE_ENV: 'production', ...env },
      });
      running.get(name)!.app = app;
    }),
  );
}, 90_000);

afterAll(async () => {
  await Promise.all([...running.values()].map(({ app }) => app?.stop()));
  for (const { directory } of running.values()) directory.remove();
});

describe.each([
  ['on Express', 'express'],
  ['on Fastify', 'fastify'],
  ['with @nestjs/config and .env', 'config'],
])('Add it to your app, %s', (_how, name) => {
  it('counts visits and shows a flash message once, after the redirect', async () => {
    const browser = request.agent(running.get(name)!.app!.url);
    const first = await browser.get('/').expect(200, { visits: 1 });
    const cookie = setCookies(first).find((c) => c.startsWith('nest_session='));
    expect(cookie).toMatch(/; HttpOnly; SameSite=Lax$/);
    await browser.post('/name').send({ name: 'Ada' }).expect(303).expect('Location', '/');
    await browser.get('/').expect(200, { visits: 2, name: 'Ada', success: 'Hello, Ada!' });
    await browser.get('/').expect(200, { visits: 3, name: 'Ada' });
  });
});

describe('An example app', () => {
  it("signs in, flashes once, and keeps the theme in the cookie driver's own cookie", async () => {
    const { app, directory } = running.get('example')!;
    const browser = request.agent(app!.url);
    await browser.post('/login').send({ name: 'ada' }).expect(303).expect('Location', '/dashboard');
    await browser.get('/dashboard').expect(200, { user: 'ada', success: 'Welcome back, ada!' });
    await browser.get('/dashboard').expect(200, { user: 'ada' });
    const theme = await browser.post('/theme').send({ theme: 'dark' }).expect(201);
    expect(setCookies(theme).map((c) => c.split('=')[0])).toEqual(['nest_session_cookie']);
    expect(existsSync(join(directory.path, 'sessions.sqlite'))).toBe(true);
  });
});

describe('Templates, with the controller of Flash messages', () => {
  let app: INestApplication;
  let directory: ReturnType<typeof readmeDirectory>;
  beforeAll(async () => {
    directory = readmeDirectory();
    writeFiles(directory.path, [...sectionFiles('Flash messages'), ...sectionFiles('Templates')]);
    const { PostsController } = await import(join(directory.path, 'src', 'posts.controller.ts'));
    const { setUpViews } = await import(join(directory.path, 'src', 'views.ts'));
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: SECRET })],
      controllers: [PostsController],
    }).compile();
    const express = moduleRef.createNestApplication<NestExpressApplication>(new ExpressAdapter(), {
      logger: false,
    });
    setUpViews(express, join(directory.path, 'views'));
    app = await express.init();
  });
  afterAll(async () => {
    await app?.close();
    directory.remove();
  });

  it('renders the page with the messages helper it includes: the flash once, after the redirect', async () => {
    const browser = request.agent(app.getHttpServer());
    await browser.post('/posts').send({ title: 'Hello' }).expect(303).expect('Location', '/posts');
    const page = await browser.get('/posts').expect(200);
    expect(page.text).toContain('<div class="alert alert-success">&quot;Hello&quot; published</div>');
    expect(page.text).toContain('<h1>Posts</h1>');
    const again = await browser.get('/posts').expect(200);
    expect(again.text).not.toContain('alert');
  });
});
