// `npm run bench:users`: what users and their devices cost, on every driver this process can reach:
// memory, file and database on SQLite always; PostgreSQL, MariaDB and Redis when NEST_SESSION_PG_URL,
// NEST_SESSION_MARIADB_URL and NEST_SESSION_REDIS_URL are set (`source .ci/tmp/services.env` after
// `bash .ci/services.sh start`). Not part of `npm run bench`; figures, never a test.
//
// Per driver, without HTTP, in a Nest application context with SessionModule.forRoot():
// - signIn: `SessionTesting.runInSession(app, { cookie }, (s) => s.signIn(user))` on an anonymous
//   session minted beforehand (not timed): the load, the new id bound to the user and the old one
//   retired, as a sign-in request's session work;
// - list: `SessionRegistry.list(user)` of a user with 5 sessions;
// - revokeAll: `SessionRegistry.revokeAll(user)` of a user with 1 000 sessions, once;
// - the index's bytes per session: Redis, MEMORY USAGE of the keys named after that user, divided by
//   its sessions; memory, the heap the index takes (the heap after 1 000 signed-in sessions against
//   1 000 anonymous ones, less what the store's own byte accounting says the user adds to the records).
// A store without the user index (UserIndexedSessionStore) prints "skipped: no user index".
// Then the cookie driver's revocation check: a signed-in request on an in-process Fastify app
// (app.inject()), plain cookie driver against `users.revocationStore` on memory, SQLite and Redis.
// Median and p99 are wall time per call; CPU is this process's user + system time per call (the
// database and Redis servers' own work is not in it). Options: --calls=N (default 300), --requests=N
// (cookie check, per variant, default 3000), --sessions=N (revokeAll, default 1000), --drivers=memory,redis
// (only the drivers whose label starts so; the cookie check always runs).
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { build, libPath } from './build.js';

const SECRET = 'bench-users-secret-0123456789abcdefghij';
const DEVICE = {
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0',
  ip: '203.0.113.7',
};
const log = (line) => process.stderr.write(`${line}\n`);
const out = (line) => process.stdout.write(`${line}\n`);
const tag = randomBytes(4).toString('hex');
const lib = async (name) => import(pathToFileURL(libPath(name)).href);

function parseArgs(argv) {
  const flags = Object.fromEntries(
    argv.map((arg) => {
      const [key, value] = arg.replace(/^--/, '').split('=');
      return [key, value ?? true];
    }),
  );
  return {
    calls: Number(flags.calls ?? 300),
    requests: Number(flags.requests ?? 3000),
    sessions: Number(flags.sessions ?? 1000),
    only: flags.drivers ? String(flags.drivers).split(',') : undefined,
  };
}

/** The drivers to measure: [label, forRoot options], the servers' only when their URL is set. */
function drivers(dir) {
  const env = process.env;
  const sqlite = { type: 'better-sqlite3', database: path.join(dir, 'sessions.sqlite'), enableWAL: true };
  const table = `users_bench_${tag}`;
  const list = [
    // Room for every session the run makes: nothing is pushed out of the LRU.
    ['memory', { driver: 'memory', memory: { max: 100_000 } }],
    ['file', { driver: 'file', file: { directory: path.join(dir, 'files'), pruneInterval: 0 } }],
    ['database (SQLite)', { driver: 'database', database: { dataSource: sqlite, pruneInterval: 0 } }],
  ];
  if (env.NEST_SESSION_PG_URL) {
    const dataSource = { type: 'postgres', url: env.NEST_SESSION_PG_URL };
    list.push([
      'database (PostgreSQL)',
      { driver: 'database', database: { dataSource, table, pruneInterval: 0 } },
    ]);
  }
  if (env.NEST_SESSION_MARIADB_URL) {
    const dataSource = { type: 'mariadb', url: env.NEST_SESSION_MARIADB_URL };
    list.push([
      'database (MariaDB)',
      { driver: 'database', database: { dataSource, table, pruneInterval: 0 } },
    ]);
  }
  if (env.NEST_SESSION_REDIS_URL) {
    list.push([
      'redis',
      { driver: 'redis', redis: { url: env.NEST_SESSION_REDIS_URL, prefix: `bench:users:${tag}:` } },
    ]);
  }
  return list;
}

async function nest() {
  const common = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  return { ...common, NestFactory };
}

/** A Nest application context whose only module is SessionModule.forRoot(options). */
async function contextFor(options) {
  const { Module, NestFactory } = await nest();
  const { SessionModule } = await lib('index');
  class UsersBenchModule {}
  Module({ imports: [SessionModule.forRoot({ secret: SECRET, ...options })] })(UsersBenchModule);
  return NestFactory.createApplicationContext(UsersBenchModule, { logger: false, abortOnError: false });
}

function summary(times, cpu) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
  return { median: at(50) * 1000, p99: at(99) * 1000, cpu: cpu / times.length };
}

/** Runs `step(i)` (which calls `timed(fn)` once) for warm-up then `calls` times; wall and CPU of the timed part. */
async function perCall(calls, step) {
  const warm = Math.max(20, Math.floor(calls / 10));
  let times = [];
  let cpu = 0;
  const timed = async (fn) => {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const value = await fn();
    times.push(performance.now() - start);
    const used = process.cpuUsage(cpu0);
    cpu += used.user + used.system;
    return value;
  };
  for (let i = 0; i < warm; i++) await step(i, timed);
  times = [];
  cpu = 0;
  for (let i = 0; i < calls; i++) await step(warm + i, timed);
  return summary(times, cpu);
}

/** Runs `make(i)` for 0..count-1, 16 at a time. */
async function inBatches(count, make) {
  for (let i = 0; i < count; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, count - i) }, (_, k) => make(i + k)));
  }
}

const gc = () => {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
  return process.memoryUsage().heapUsed;
};

/**
 * The memory store: the heap its user index takes per session. In a store of its own, 20 000
 * records written straight to it (applyNow, nothing else allocated), anonymous, then as many bound
 * to 4 000 users (5 sessions each; a binding scans its user's entries); the heap the bound ones took beyond the anonymous ones, less the bytes the store's own
 * accounting (`bytes`: the records' JSON) says the user adds to each record.
 */
async function memoryIndexBytes(userId) {
  if (typeof globalThis.gc !== 'function') return 'n/a (run with --expose-gc)';
  const { MemoryStore } = await lib('stores/memory.store');
  const sessions = 20_000;
  const users = sessions / 5;
  const store = new MemoryStore({ max: 3 * sessions, maxBytes: 2 ** 30 });
  const now = Date.now();
  const meta = { createdAt: now, lastActivity: now, expiresAt: now + 3_600_000, create: true };
  const changes = (user) => ({
    clearData: false,
    clearFlash: false,
    set: { cart: [1, 2, 3] },
    deleted: [],
    flash: {},
    flashCleared: {},
    ...(user === undefined ? {} : { user: { id: user, signedInAt: now, label: 'Work laptop', ...DEVICE } }),
  });
  const taken = (bound) => {
    const ids = Array.from({ length: sessions }, () => randomBytes(32).toString('base64url'));
    const heap0 = gc();
    const bytes0 = store.bytes;
    ids.forEach((id, i) => store.applyNow(id, changes(bound ? `${userId}-${i % users}` : undefined), meta));
    return { heap: gc() - heap0, bytes: store.bytes - bytes0 };
  };
  const anonymous = taken(false);
  const bound = taken(true);
  const inRecords = (bound.bytes - anonymous.bytes) / sessions;
  const heap = (bound.heap - anonymous.heap) / sessions - inRecords;
  return `~${Math.round(heap)} heap (and the user in each record: +${Math.round(inRecords)})`;
}

/** Redis: the bytes of the keys named after `user` (its index), by MEMORY USAGE. */
async function redisUserBytes(url, prefix, user) {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  try {
    let bytes = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*${user}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys)
        bytes += Number((await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    } while (cursor !== '0');
    return bytes;
  } finally {
    client.disconnect();
  }
}

async function redisDropPrefix(url, prefix) {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

async function dropTable(dataSourceOptions, table) {
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOptions).initialize();
  try {
    await dataSource.query(`DROP TABLE IF EXISTS ${table}`);
  } finally {
    await dataSource.destroy();
  }
}

/** signIn, list, revokeAll and the index's bytes on one driver; a row, or a string saying why not. */
async function measureDriver(label, options, { calls, sessions }) {
  const { SessionRegistry, SessionManager } = await lib('index');
  const { SessionTesting } = await lib('testing/index');
  const { isUserIndexed } = await lib('stores/session-store');
  let app;
  try {
    app = await contextFor({ ...options, users: { device: { userAgent: true, ip: 'truncated' } } });
  } catch (error) {
    if (error?.code === 'SESSION_USERS_UNSUPPORTED') return 'skipped: no user index';
    throw error;
  }
  try {
    const manager = app.get(SessionManager, { strict: false });
    const store = manager.store();
    if (!isUserIndexed(store)) return 'skipped: no user index';
    const kit = SessionTesting.for(app);
    const registry = app.get(SessionRegistry, { strict: false });
    const user = (name) => `bench-${tag}-${name}`;

    const signIn = await perCall(calls, async (i, timed) => {
      const cookie = await kit.mint({ data: { cart: [1, 2, 3] }, device: DEVICE });
      const { cookie: after } = await timed(() =>
        SessionTesting.runInSession(app, { cookie, device: DEVICE }, (s) =>
          s.signIn(user(`in${i % 100}`), { label: 'Work laptop' }),
        ),
      );
      if (after === undefined || after === cookie) throw new Error(`${label}: signIn kept no new session`);
    });

    const five = user('five');
    for (let i = 0; i < 5; i++) await kit.mint({ userId: five, device: { ...DEVICE, label: `d${i}` } });
    const list = await perCall(calls, async (_i, timed) => {
      const devices = await timed(() => registry.list(five));
      if (devices.length !== 5) throw new Error(`${label}: list gave ${devices.length} sessions, not 5`);
    });

    const many = user('many');
    await inBatches(sessions, () =>
      kit.mint({ userId: many, data: { cart: [1, 2, 3] }, device: { ...DEVICE, label: 'Work laptop' } }),
    );
    let index = '';
    if (options.driver === 'memory') {
      index = await memoryIndexBytes(user('heap'));
    } else if (options.driver === 'redis') {
      const bytes = await redisUserBytes(options.redis.url, options.redis.prefix, many);
      index = `${Math.round(bytes / sessions)} (MEMORY USAGE)`;
    }
    const start = performance.now();
    const revoked = await registry.revokeAll(many);
    const revokeMs = performance.now() - start;
    const left = await registry.count(many);
    if (revoked !== sessions || left !== 0)
      throw new Error(`${label}: revokeAll revoked ${revoked} of ${sessions}, ${left} left`);
    return { signIn, list, revokeMs, index };
  } finally {
    await app.close();
  }
}

/** An in-process Fastify app: GET /me answers the session's user. */
async function cookieApp(options) {
  const { Module, Controller, Get, Inject, NestFactory } = await nest();
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  const { SessionModule, Session } = await lib('index');
  class MeController {
    constructor(session) {
      this.session = session;
    }
    me() {
      return { user: this.session.userId ?? null };
    }
  }
  Inject(Session)(MeController, undefined, 0);
  Get('me')(MeController.prototype, 'me', Object.getOwnPropertyDescriptor(MeController.prototype, 'me'));
  Controller()(MeController);
  class CookieBenchModule {}
  Module({
    imports: [SessionModule.forRoot({ secret: SECRET, driver: 'cookie', ...options })],
    controllers: [MeController],
  })(CookieBenchModule);
  const app = await NestFactory.create(CookieBenchModule, new FastifyAdapter(), {
    logger: false,
    abortOnError: false,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** The cookie driver, plain and with a revocation store: signed-in requests, interleaved in 3 rounds. */
async function measureCookie(dir, { requests }) {
  const { SessionTesting } = await lib('testing/index');
  const env = process.env;
  const sqlite = { type: 'better-sqlite3', database: path.join(dir, 'revocations.sqlite'), enableWAL: true };
  const variants = [
    ['cookie (plain)', {}],
    ['cookie + revocationStore memory', { users: { revocationStore: 'memory' } }],
    [
      'cookie + revocationStore database (SQLite)',
      { users: { revocationStore: 'database' }, database: { dataSource: sqlite, pruneInterval: 0 } },
    ],
  ];
  const prefix = `bench:users:${tag}:cookie:`;
  if (env.NEST_SESSION_REDIS_URL) {
    variants.push([
      'cookie + revocationStore redis',
      { users: { revocationStore: 'redis' }, redis: { url: env.NEST_SESSION_REDIS_URL, prefix } },
    ]);
  }
  const runs = [];
  const skipped = [];
  try {
    for (const [label, options] of variants) {
      let app;
      try {
        app = await cookieApp(options);
      } catch (error) {
        if (error?.code !== 'SESSION_USERS_UNSUPPORTED') throw error;
        skipped.push(label);
        continue;
      }
      const user = `bench-${tag}-cookie`;
      const cookie = await SessionTesting.for(app).mint({ userId: user, device: DEVICE });
      runs.push({ label, app, cookie, user, times: [], cpu: 0 });
    }
    const one = async (run) => {
      const res = await run.app.inject({ method: 'GET', url: '/me', headers: { cookie: run.cookie } });
      if (res.statusCode !== 200 || res.json().user !== run.user)
        throw new Error(`${run.label}: ${res.statusCode} ${res.body}`);
    };
    for (const run of runs) for (let i = 0; i < 300; i++) await one(run);
    const perRound = Math.ceil(requests / 3);
    for (let round = 0; round < 3; round++) {
      for (const run of runs) {
        const cpu0 = process.cpuUsage();
        for (let i = 0; i < perRound; i++) {
          const start = performance.now();
          await one(run);
          run.times.push(performance.now() - start);
        }
        const used = process.cpuUsage(cpu0);
        run.cpu += used.user + used.system;
      }
    }
    return [
      ...runs.map((run) => ({ label: run.label, ...summary(run.times, run.cpu) })),
      ...skipped.map((label) => ({ label, skipped: 'skipped: this cookie driver has no users' })),
    ];
  } finally {
    for (const run of runs) await run.app.close();
    if (env.NEST_SESSION_REDIS_URL) await redisDropPrefix(env.NEST_SESSION_REDIS_URL, prefix);
  }
}

const us = (n) => n.toFixed(0);

async function main() {
  const options = parseArgs(process.argv.slice(2));
  await build();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nest-session-bench-users-'));
  const [load1] = os.loadavg();
  const started = performance.now();
  const lines = [
    `Node ${process.version}, ${os.cpus().length} cores, load average ${load1.toFixed(1)} at start; ` +
      `${options.calls} calls each (one at a time, after a warm-up), revokeAll of ${options.sessions} sessions`,
    '',
    '| driver | signIn median / p99 µs | signIn CPU µs | list(5) median / p99 µs | list CPU µs | revokeAll ms | index bytes/session |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  try {
    const wanted = ([label]) => !options.only || options.only.some((name) => label.startsWith(name));
    for (const [label, driverOptions] of drivers(dir).filter(wanted)) {
      log(`${label} ...`);
      let row;
      try {
        row = await measureDriver(label, driverOptions, options);
      } finally {
        if (driverOptions.database?.table)
          await dropTable(driverOptions.database.dataSource, driverOptions.database.table);
        if (driverOptions.redis) await redisDropPrefix(driverOptions.redis.url, driverOptions.redis.prefix);
      }
      const line =
        typeof row === 'string'
          ? `| ${label} | ${row} | | | | | |`
          : `| ${label} | ${us(row.signIn.median)} / ${us(row.signIn.p99)} | ${us(row.signIn.cpu)} | ` +
            `${us(row.list.median)} / ${us(row.list.p99)} | ${us(row.list.cpu)} | ${row.revokeMs.toFixed(0)} | ${row.index || '-'} |`;
      log(line);
      lines.push(line);
    }
    log('cookie driver ...');
    const cookie = await measureCookie(dir, options);
    const plain = cookie[0];
    lines.push(
      '',
      `Cookie driver, a signed-in GET on Fastify (app.inject()), ${options.requests} requests per variant in 3 interleaved rounds`,
      '',
      '| variant | median / p99 µs | CPU µs/request | CPU vs plain |',
      '| --- | --- | --- | --- |',
      ...cookie.map((r) =>
        r.skipped
          ? `| ${r.label} | ${r.skipped} | | |`
          : `| ${r.label} | ${us(r.median)} / ${us(r.p99)} | ${us(r.cpu)} | ${r === plain ? '' : `${r.cpu >= plain.cpu ? '+' : ''}${us(r.cpu - plain.cpu)}`} |`,
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const [loadEnd] = os.loadavg();
  lines.push(
    '',
    `${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadEnd.toFixed(1)} at the end`,
  );
  out(`\n${lines.join('\n')}`);
}

await main();
