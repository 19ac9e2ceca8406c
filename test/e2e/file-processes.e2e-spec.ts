import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import request from 'supertest';
import { cookiePair } from '../support/app.js';
import { SECRET } from '../support/session-app.js';

// Several processes on one machine sharing the file driver's directory, as the file driver is
// meant for (a cluster, PM2, a rolling restart): two child processes, each a Nest app of its own
// (test/support/file-server.ts, compiled with lib/ by SWC into a temp dir), and 100 overlapping
// requests on one session spread across both, then two streams of writes side by side. Every
// change must be kept: the lock per session holds between processes, not only within one. Then
// sign-ins of one user in both at once under users.maxPerUser: the user's lock holds between
// processes too, so only one of them passes.

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Child {
  process: ChildProcess;
  port: number;
  stderr: string[];
}

/** lib/ and the test server, compiled to ES modules with decorator metadata, as the tests run them. */
async function compile(out: string): Promise<string> {
  const { transformFile } = await import('@swc/core');
  const { swcOptions } = await import(pathToFileURL(join(root, 'swc.options.js')).href);
  const libFiles = (await readdir(join(root, 'lib'), { recursive: true }))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
    .map((f) => join('lib', f));
  const server = join('test', 'support', 'file-server.ts');
  await Promise.all(
    [...libFiles, server].map(async (file) => {
      const { code } = await transformFile(join(root, file), { ...swcOptions, sourceMaps: false });
      const target = join(out, file.replace(/\.ts$/, '.js'));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, code);
    }),
  );
  await writeFile(join(out, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
  return join(out, 'test', 'support', 'file-server.js');
}

function start(entry: string, directory: string, children: Child[]): Promise<Child> {
  const { NODE_OPTIONS: _jestFlags, ...env } = process.env;
  const child = fork(entry, [directory, SECRET], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('message', (message: { type: string; port: number }) => {
      const started = { process: child, port: message.port, stderr };
      children.push(started);
      resolve(started);
    });
    child.once('exit', (code) => reject(new Error(`a server exited (${code}):\n${stderr.join('')}`)));
  });
}

function stop(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
  child.process.send({ type: 'stop' });
  return exited;
}

/** Resolves once the child has reported that all the requests it expects are held. */
function arrived(child: Child): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: { type: string }) => {
      if (message.type !== 'arrived') return;
      child.process.off('message', listener);
      resolve();
    };
    child.process.on('message', listener);
  });
}

describe('file driver, two processes sharing one directory', () => {
  let work: string;
  let a: Child;
  let b: Child;
  const children: Child[] = [];
  const url = (child: Child) => `http://127.0.0.1:${child.port}`;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'nest-session-file-processes-'));
    const entry = await compile(join(work, 'build'));
    const directory = join(work, 'sessions');
    [a, b] = await Promise.all([start(entry, directory, children), start(entry, directory, children)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(children.map(stop));
    await rm(work, { recursive: true, force: true });
  });

  it('keeps every key when 100 overlapping requests on one session are spread across both', async () => {
    const warm = await request(url(a)).post('/warm').expect(200);
    const cookie = cookiePair(warm, 'nest_session')!;
    for (const child of [a, b]) child.process.send({ type: 'expect', count: 50 });
    const held = Promise.all([arrived(a), arrived(b)]).then(() => {
      for (const child of [a, b]) child.process.send({ type: 'go' });
    });
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        request(url(i % 2 ? a : b))
          .post(`/concurrent/k${i}`)
          .set('Cookie', cookie),
      ),
    );
    await held;
    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));

    const afterBurst = await request(url(b)).get('/state').set('Cookie', cookie).expect(200);
    expect(Object.keys(afterBurst.body.data)).toHaveLength(101);

    // Then both processes write without pause, side by side: their read-change-write cycles
    // interleave all along, so a process that did not wait for the other's lock would lose keys.
    const stream = async (child: Child, from: number) => {
      for (let i = from; i < 100; i += 2) {
        await request(url(child)).post(`/set/s${i}`).set('Cookie', cookie).expect(200);
      }
    };
    await Promise.all([stream(a, 0), stream(b, 1)]);

    const fromA = await request(url(a)).get('/state').set('Cookie', cookie).expect(200);
    const fromB = await request(url(b)).get('/state').set('Cookie', cookie).expect(200);
    expect(Object.keys(fromA.body.data)).toHaveLength(201);
    expect(fromB.body).toEqual(fromA.body);
    const writers = new Set(Object.values(fromA.body.data));
    expect(writers).toEqual(new Set([a.process.pid, b.process.pid]));
  }, 60_000);

  it('lets one of two sign-ins of one user at once pass users.maxPerUser 1, one in each process', async () => {
    const users = Array.from({ length: 8 }, (_, i) => `user ${i}/${process.pid}`);
    for (const child of [a, b]) child.process.send({ type: 'expect', count: users.length });
    const held = Promise.all([arrived(a), arrived(b)]).then(() => {
      for (const child of [a, b]) child.process.send({ type: 'go' });
    });
    const signIns = await Promise.all(
      users.map((user) =>
        Promise.all([a, b].map((child) => request(url(child)).post(`/sign-in/${encodeURIComponent(user)}`))),
      ),
    );
    await held;
    for (const pair of signIns) {
      expect(pair.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(pair.find((r) => r.status === 409)!.body.code).toBe('SESSION_USER_LIMIT');
    }
    for (const user of users) {
      for (const child of [a, b]) {
        await request(url(child))
          .get(`/count/${encodeURIComponent(user)}`)
          .expect(200, { count: 1 });
      }
    }
  }, 60_000);
});
