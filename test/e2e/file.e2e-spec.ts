import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionModuleOptions } from 'nest-session';
import { cookiePair, createApp, http, platforms } from '../support/app.js';
import { sessionConformance } from '../support/conformance.js';
import { SECRET, sessionApp } from '../support/session-app.js';

const root = mkdtempSync(join(tmpdir(), 'nest-session-file-'));
let dirs = 0;
/** A directory of its own, not created yet: the store creates it on first use. */
const freshDirectory = () => join(root, `sessions-${++dirs}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

// A getter: every app the suite builds from these options gets a directory of its own.
const conformanceOptions: SessionModuleOptions = {
  driver: 'file',
  secret: SECRET,
  get file() {
    return { directory: freshDirectory(), pruneInterval: 0 };
  },
};
sessionConformance('file driver', { options: conformanceOptions, serverSide: true });

describe.each(platforms)('file driver on %s', (platform) => {
  it('keeps one JSON file per session in the directory, created on first use', async () => {
    const directory = freshDirectory();
    const app = await createApp(
      platform,
      sessionApp({ driver: 'file', secret: SECRET, file: { directory } }),
    );
    try {
      expect(existsSync(directory)).toBe(false);
      const res = await http(app).post('/set').send({ a: 1 }).expect(200);
      const state = await http(app).get('/state').set('Cookie', cookiePair(res, 'nest_session')!).expect(200);
      expect(readdirSync(directory)).toEqual([`${state.body.id}.json`]);
    } finally {
      await app.close();
    }
  });

  it('answers 503 when the directory cannot be written, and serves again once it can', async () => {
    const blocker = join(root, `not-a-directory-${++dirs}`);
    writeFileSync(blocker, 'a file where the sessions directory should be');
    const app = await createApp(
      platform,
      sessionApp({ driver: 'file', secret: SECRET, file: { directory: join(blocker, 'sessions') } }),
    );
    try {
      const res = await http(app).post('/set').send({ a: 1 }).expect(503);
      expect(res.body.code).toBe('SESSION_STORE_UNAVAILABLE');
      rmSync(blocker);
      const ok = await http(app).post('/set').send({ a: 2 }).expect(200);
      await http(app)
        .get('/get/a')
        .set('Cookie', cookiePair(ok, 'nest_session')!)
        .expect(200, { value: 2, has: true });
    } finally {
      await app.close();
    }
  });
});

describe('file driver, by default', () => {
  const cwd = process.cwd();
  const dir = mkdtempSync(join(tmpdir(), 'nest-session-file-default-'));
  afterAll(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it("forRoot('file') alone keeps sessions in ./sessions, created on first use", async () => {
    process.chdir(dir);
    try {
      const app = await createApp('express', sessionApp({ driver: 'file', secret: SECRET }));
      try {
        expect(existsSync(join(dir, 'sessions'))).toBe(false);
        const res = await http(app).post('/set').send({ a: 1 }).expect(200);
        expect(readdirSync(join(dir, 'sessions'))).toHaveLength(1);
        await http(app)
          .get('/get/a')
          .set('Cookie', cookiePair(res, 'nest_session')!)
          .expect(200, { value: 1, has: true });
      } finally {
        await app.close();
      }
    } finally {
      process.chdir(cwd);
    }
  });
});
