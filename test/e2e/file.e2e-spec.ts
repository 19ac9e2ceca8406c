import { afterAll, describe, expect, it } from '@jest/globals';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionManager } from 'nest-session';
import { FileStore } from '../../lib/stores/file.store.js';
import { resolveSessionOptions } from '../../lib/session.options.js';
import { cookiePair, createApp, http, platforms } from '../support/app.js';
import { RecordingLogger } from '../support/logger.js';
import { sessionConformance } from '../support/conformance.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { SECRET, sessionApp } from '../support/session-app.js';

const root = mkdtempSync(join(tmpdir(), 'nest-session-file-'));
let dirs = 0;
/** A directory of its own, not created yet: the store creates it on first use. */
const freshDirectory = () => join(root, `sessions-${++dirs}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const file = testDriver('file');
afterAll(() => file.cleanup());
sessionConformance('file driver', conformanceOf(file));

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

  it('refuses to start on a directory others may write, where a local user could rewrite a session', async () => {
    const directory = freshDirectory();
    const options = { driver: 'file', secret: SECRET, file: { directory, pruneInterval: 0 } };
    const first = await createApp(platform, sessionApp(options));
    let id: string;
    try {
      const res = await http(first).post('/set').send({ user: 'me' }).expect(200);
      const state = await http(first).get('/state').set('Cookie', cookiePair(res, 'nest_session')!);
      id = state.body.id;
    } finally {
      await first.close();
    }
    chmodSync(directory, 0o777);
    // What any local user may now do: make the session an admin's.
    const file = join(directory, `${id}.json`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"me"', '"admin"'));
    await expect(createApp(platform, sessionApp(options))).rejects.toThrow(
      `SESSION_FILE_DIRECTORY_UNSAFE: the session directory '${realpathSync(directory)}' has mode 0777`,
    );
  });

  it('answers 500 for a directory found unsafe on first use, and serves once it is fixed', async () => {
    const directory = freshDirectory();
    const logger = new RecordingLogger();
    const app = await createApp(
      platform,
      sessionApp({ driver: 'file', secret: SECRET, file: { directory, pruneInterval: 0 } }),
      logger,
    );
    try {
      // Made after start-up (where it was missing), open to every user.
      mkdirSync(directory);
      chmodSync(directory, 0o777);
      const res = await http(app).post('/set').send({ a: 1 }).expect(500);
      expect(res.body.code).toBe('SESSION_STORE_MISCONFIGURED');
      expect(res.body.message).not.toContain(directory);
      expect(logger.errors()).toEqual([
        expect.stringContaining(`the session directory '${realpathSync(directory)}' has mode 0777`),
      ]);
      chmodSync(directory, 0o700);
      const ok = await http(app).post('/set').send({ a: 2 }).expect(200);
      await http(app)
        .get('/get/a')
        .set('Cookie', cookiePair(ok, 'nest_session')!)
        .expect(200, { value: 2, has: true });
    } finally {
      await app.close();
    }
  });

  it('answers a 503 at once when its directory was removed, and makes it again for the next request', async () => {
    const directory = freshDirectory();
    const logger = new RecordingLogger();
    const app = await createApp(
      platform,
      sessionApp({ driver: 'file', secret: SECRET, file: { directory, pruneInterval: 0 } }),
      logger,
    );
    try {
      const store = app.get(SessionManager).store('file') as FileStore;
      const first = await http(app).post('/set').send({ a: 1 }).expect(200);
      rmSync(directory, { recursive: true });
      const attempts = store.locks.attempts;
      const gone = await http(app)
        .post('/set')
        .set('Cookie', cookiePair(first, 'nest_session')!)
        .send({ b: 2 })
        .expect(503);
      expect(gone.body.code).toBe('SESSION_STORE_UNAVAILABLE');
      // One try of the lock, not proper-lockfile's ~1000 retries of an ENOENT (~25 s).
      expect(store.locks.attempts - attempts).toBe(1);
      expect(logger.errors()).toEqual([
        expect.stringMatching(
          /session store is unavailable: .*the session directory is gone; it is made again/,
        ),
      ]);
      const again = await http(app).post('/set').send({ c: 3 }).expect(200);
      expect(statSync(directory).mode & 0o777).toBe(0o700);
      await http(app)
        .get('/get/c')
        .set('Cookie', cookiePair(again, 'nest_session')!)
        .expect(200, { value: 3, has: true });
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

describe('file driver options', () => {
  it('defaults to ./sessions and a sweep every 15 minutes', () => {
    expect(resolveSessionOptions({ secret: SECRET }, {}).file).toEqual({
      directory: './sessions',
      pruneInterval: 15 * 60 * 1000,
    });
  });

  it.each([
    [{ directory: '' }, /file.directory must be a directory path/],
    [{ directory: 42 as never }, /file.directory must be a directory path/],
    [{ pruneInterval: -1 }, /file.pruneInterval must be a number of milliseconds/],
    [{ pruneInterval: Infinity }, /file.pruneInterval must be a number of milliseconds/],
    [{ pruneInterval: '60000' as never }, /file.pruneInterval must be a number of milliseconds/],
  ])('rejects file: %j at start-up, whichever driver is the default', async (file, message) => {
    await expect(
      createApp('express', sessionApp({ driver: 'memory', secret: SECRET, file })),
    ).rejects.toThrow(message);
  });

  it('reaches the file driver beside the default one, with its options and maxSize', async () => {
    const directory = freshDirectory();
    const app = await createApp(
      'express',
      sessionApp({ driver: 'memory', secret: SECRET, maxSize: 100, file: { directory, pruneInterval: 0 } }),
    );
    try {
      const store = app.get(SessionManager).store('file');
      expect(store).toBeInstanceOf(FileStore);
      expect((store as FileStore).directory).toBe(directory);
      const res = await http(app)
        .post('/driver/file')
        .send({ big: 'x'.repeat(200) });
      expect(res.status).toBe(500);
      expect(res.body.code).toBe('SESSION_TOO_LARGE');
    } finally {
      await app.close();
    }
  });

  it("names 'file' among the drivers when one is unknown", async () => {
    await expect(createApp('express', sessionApp({ driver: 'files', secret: SECRET }))).rejects.toThrow(
      /use 'memory', 'cookie', 'file', 'database', 'redis'/,
    );
  });
});
