// `npm run bench:prune`: does the database driver's prune() of a large backlog of expired rows hurt
// live traffic, and is it at least as fast as the single statement the peers run? Not part of
// `npm run bench`. The goal (issue 27, item 7): the p99 of live requests while the store prunes
// 300 000 expired rows is at most 2x the p99 of the same requests with no prune running, and the
// prune takes no longer than the peers' `DELETE FROM <table> WHERE <expires> < ?` (connect-pg-simple,
// express-mysql-session, better-sqlite3-session-store) on the same backlog, with the same load.
//
// Each measurement: a fresh backlog (`rows` expired rows of about 1 KB, or 30 bytes with `small`,
// and `live` rows expiring in an hour; random ids, so they interleave) in a fresh table (SQLite: a
// fresh file in a temp dir, the driver's default WAL mode; ours and the peer's get copies of one
// seeded file). An app process opens the store on it and serves HTTP requests, each a store get and
// an apply (a write) on a random live session, as a session middleware does; this process sends
// them at a fixed rate on keep-alive connections (open loop: a request's latency counts from when it
// was due, so a stalled app is charged for every request that waited, not only the few in flight).
// After 3 s of warm-up, the load runs `idle` seconds with no prune (the idle p99), then, with no
// pause, the app process prunes while the load goes on (the prune p99), until the prune returns:
//   ours   the store's prune(), in the app process, as its sweep runs it (pruneInterval);
//          with --stores=3, 2 more processes prune the same table at once (other app instances);
//   peer   the peer's single DELETE, in the app process, on a connection of its own (the peers'
//          own pool, or better-sqlite3 handle).
// SQLite is in-process and synchronous: a statement blocks the app's event loop while it runs, so
// "live requests" are the app process's own HTTP requests waiting behind its sweep, as a real app's
// are (the load generator is another process, never blocked).
//
// Server databases: the timing starts only once the seed's own writes have settled: a backlog in
// production builds up over hours and sits on disk, whereas right after seeding 300 000 rows of 1 KB
// the server is still writing them out (MariaDB: the buffer pool is mostly dirty pages, flushed in
// the background, which the prune would compete with). So after seeding, MariaDB is polled until its
// dirty pages are few (Innodb_buffer_pool_pages_dirty) or no longer being flushed, and its purge is
// done (Innodb_history_list_length); PostgreSQL gets VACUUM ANALYZE and a CHECKPOINT (when the user
// may run it); SQLite's seed is checkpointed into the file (wal_checkpoint(TRUNCATE)). --no-settle
// times the prune right after the seed.
//
// Options: --db=sqlite,postgres,mariadb (default: sqlite and the servers whose URL is set:
// NEST_SESSION_PG_URL, NEST_SESSION_MARIADB_URL, `source .ci/tmp/services.env` after
// `bash .ci/services.sh start`); --rows=N expired rows (default 300000); --live=N live rows (default
// 5000); --payloads=1kb,small (default 1kb; --small is --payloads=small); --stores=1,3 (ours with
// that many pruning processes; default 1); --no-peer; --repeats=N (default 1; ours and the peer's
// take turns going first); --idle=S seconds of idle load (default 10); --rate=N requests a second
// (default 100); --no-settle; --out=FILE writes the summary section (markdown) to FILE.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, libPath } from './build.js';
import { machine } from './machine.js';
import { median } from './stats.js';

const HERE = fileURLToPath(import.meta.url);
const URLS = { sqlite: undefined, postgres: 'NEST_SESSION_PG_URL', mariadb: 'NEST_SESSION_MARIADB_URL' };
const HOUR = 60 * 60 * 1000;
const WARM_UP = 3000;
/** The goal: prune p99 at most this many times the idle p99. */
const P99_GOAL = 2;
const log = (line) => process.stderr.write(`${line}\n`);

/**
 * Where a measurement's sessions are: `{ db, table }`, and for SQLite the file. TypeORM options for it.
 */
function dataSourceOf({ db, file }) {
  if (db === 'sqlite') return { type: 'better-sqlite3', database: file, enableWAL: true };
  const url = process.env[URLS[db]];
  return db === 'postgres' ? { type: 'postgres', url } : { type: 'mariadb', url };
}

async function loadStore() {
  const { DatabaseStore } = await import(pathToFileURL(libPath('stores/database/database.store')).href);
  return DatabaseStore;
}

function parseArgs(argv) {
  const flags = Object.fromEntries(
    argv.map((arg) => {
      const [key, value] = arg.replace(/^--/, '').split('=');
      return [key, value ?? true];
    }),
  );
  const list = (value) => String(value).split(',');
  const dbs = flags.db
    ? list(flags.db)
    : Object.keys(URLS).filter((db) => db === 'sqlite' || process.env[URLS[db]]);
  for (const db of dbs) {
    if (!(db in URLS)) throw new Error(`--db: sqlite, postgres or mariadb, not ${db}`);
    if (URLS[db] && !process.env[URLS[db]]) {
      throw new Error(`${URLS[db]} is not set (source .ci/tmp/services.env)`);
    }
  }
  const payloads = flags.small === true ? ['small'] : list(flags.payloads ?? '1kb');
  for (const p of payloads) if (!['1kb', 'small'].includes(p)) throw new Error(`--payloads: 1kb or small`);
  return {
    dbs,
    rows: Number(flags.rows ?? 300_000),
    live: Number(flags.live ?? 5000),
    payloads,
    stores: list(flags.stores ?? '1').map(Number),
    peer: flags['no-peer'] !== true,
    repeats: Number(flags.repeats ?? 1),
    idle: Number(flags.idle ?? 10) * 1000,
    rate: Number(flags.rate ?? 100),
    settle: flags['no-settle'] !== true,
    out: typeof flags.out === 'string' ? flags.out : undefined,
  };
}

/** Session ids as the library makes them: 32 random bytes, base64url (expired and live rows interleave). */
const newId = () => randomBytes(32).toString('base64url');

/** The rows of a backlog, `rows` expired (expiry times spread over the past day) then `live`. */
function* backlogRows({ rows, live, payload }) {
  const filler = payload === 'small' ? '' : 'x'.repeat(1000);
  const now = Date.now();
  for (let i = 0; i < rows + live; i++) {
    const expired = i < rows;
    const expiresAt = expired ? now - 1000 - Math.floor(Math.random() * 24 * HOUR) : now + HOUR;
    const row = [newId(), JSON.stringify({ data: { n: i, filler }, flash: {} }), expiresAt];
    yield { expired, values: [...row, expiresAt - HOUR, expiresAt - HOUR] };
  }
}

/** Creates the table through the store itself (its schema and indexes), then closes the store. */
async function createTable(DatabaseStore, target) {
  const creator = new DatabaseStore({
    dataSource: dataSourceOf(target),
    table: target.table,
    pruneInterval: 0,
  });
  await creator.get('creates the table');
  await creator.close();
}

const INSERT = 'INSERT INTO sessions (id, payload, expires_at, last_activity, created_at)';

/** SQLite: the backlog in one transaction, checkpointed into the file. Resolves to the live ids. */
async function seedSqlite(DatabaseStore, target, options) {
  await createTable(DatabaseStore, target);
  const { default: Database } = await import('better-sqlite3');
  const connection = new Database(target.file);
  const liveIds = [];
  try {
    const insert = connection.prepare(`${INSERT} VALUES (?, ?, ?, ?, ?)`);
    connection.transaction(() => {
      for (const { expired, values } of backlogRows(options)) {
        insert.run(...values);
        if (!expired) liveIds.push(values[0]);
      }
    })();
    connection.exec('ANALYZE');
    connection.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    connection.close();
  }
  return liveIds;
}

/** A server database: the backlog 1000 rows to a multi-row INSERT. Resolves to the live ids. */
async function seedServer(DatabaseStore, target, options) {
  await createTable(DatabaseStore, target);
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(target)).initialize();
  const liveIds = [];
  const postgres = target.db === 'postgres';
  try {
    let params = [];
    let values = [];
    const flush = async () => {
      const sql = `${INSERT.replace('sessions', target.table)} VALUES ${values.join(', ')}`;
      await dataSource.query(sql, params);
      params = [];
      values = [];
    };
    for (const row of backlogRows(options)) {
      params.push(...row.values);
      const at = (k) => (postgres ? `$${params.length - 4 + k}` : '?');
      values.push(`(${at(0)}, ${at(1)}, ${at(2)}, ${at(3)}, ${at(4)})`);
      if (!row.expired) liveIds.push(row.values[0]);
      if (values.length === 1000) await flush();
    }
    if (values.length > 0) await flush();
    if (postgres) await dataSource.query(`VACUUM ANALYZE ${target.table}`);
    else await dataSource.query(`ANALYZE TABLE ${target.table}`);
  } finally {
    await dataSource.destroy();
  }
  return liveIds;
}

/** Dirty pages at most this share of the buffer pool, and purge lag at most this many transactions. */
const SETTLED_DIRTY = 0.01;
const SETTLED_HISTORY = 100;
const SETTLED_QUIET = 3000;
const SETTLE_LIMIT = 600_000;

/**
 * Waits until the server has written out what the seed changed (see the header). Resolves to the
 * seconds waited.
 */
async function settle(target) {
  if (target.db === 'sqlite') return { seconds: 0 }; // checkpointed by the seed
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(target)).initialize();
  const start = performance.now();
  try {
    if (target.db === 'postgres') {
      try {
        await dataSource.query('CHECKPOINT');
      } catch (error) {
        log(`  CHECKPOINT: ${error.message} (settled by VACUUM ANALYZE only)`);
      }
      return { seconds: (performance.now() - start) / 1000 };
    }
    const status = async () => {
      const rows = await dataSource.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', " +
          "'Innodb_buffer_pool_pages_total', 'Innodb_buffer_pool_pages_flushed', 'Innodb_history_list_length')",
      );
      return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
    };
    // MariaDB's page cleaner may leave some dirty pages for good once the server is idle: settled is
    // few dirty pages, or none flushed for SETTLED_QUIET ms; and the purge done, either way.
    let before = await status();
    let quiet = 0;
    for (;;) {
      await sleep(500);
      const s = await status();
      quiet =
        s.Innodb_buffer_pool_pages_flushed === before.Innodb_buffer_pool_pages_flushed ? quiet + 500 : 0;
      before = s;
      const dirty = s.Innodb_buffer_pool_pages_dirty;
      const settled =
        (dirty <= s.Innodb_buffer_pool_pages_total * SETTLED_DIRTY || quiet >= SETTLED_QUIET) &&
        s.Innodb_history_list_length <= SETTLED_HISTORY;
      if (settled || performance.now() - start > SETTLE_LIMIT) {
        if (!settled) log(`  not settled after ${SETTLE_LIMIT / 1000} s`);
        return { seconds: (performance.now() - start) / 1000, dirty };
      }
    }
  } finally {
    await dataSource.destroy();
  }
}

async function dirtyPages(target) {
  if (target.db !== 'mariadb') return undefined;
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(target)).initialize();
  try {
    const [row] = await dataSource.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
    return Number(row.Value);
  } finally {
    await dataSource.destroy();
  }
}

/** The rows left in the table, which is then dropped (SQLite: the file is removed with its folder). */
async function countAndDrop(target) {
  if (target.db === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const connection = new Database(target.file);
    try {
      return Number(connection.prepare('SELECT COUNT(*) FROM sessions').pluck().get());
    } finally {
      connection.close();
    }
  }
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(target)).initialize();
  try {
    const [row] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${target.table}`);
    return Number(row.n);
  } finally {
    await dataSource.query(`DROP TABLE IF EXISTS ${target.table}`);
    await dataSource.destroy();
  }
}

/** The peers' statement on our table: connect-pg-simple, express-mysql-session, better-sqlite3-session-store. */
const peerSql = ({ db, table }) =>
  `DELETE FROM ${table} WHERE expires_at < ${db === 'postgres' ? '$1' : '?'}`;

/**
 * The peer's single DELETE on a connection of its own, opened before the load starts: a function
 * that runs it and resolves to the rows it deleted.
 */
async function peerDeleter(target) {
  if (target.db === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const connection = new Database(target.file);
    const statement = connection.prepare(peerSql(target));
    return async () => {
      const { changes } = statement.run(Date.now());
      connection.close();
      return changes;
    };
  }
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(target)).initialize();
  return async () => {
    const runner = dataSource.createQueryRunner();
    try {
      return (await runner.query(peerSql(target), [Date.now()], true)).affected ?? 0;
    } finally {
      await runner.release();
      await dataSource.destroy();
    }
  };
}

/**
 * The app process: the store, an HTTP server whose every request is a get and an apply on the live
 * session its path names, and, when told, its own prune (or the peer's DELETE); reports
 * { pruned, seconds }.
 */
async function app() {
  const DatabaseStore = await loadStore();
  const { target, kind } = JSON.parse(process.argv[3]);
  const store = new DatabaseStore({
    dataSource: dataSourceOf(target),
    table: target.table,
    pruneInterval: 0,
  });
  await store.get('warm');
  const peer = kind === 'peer' ? await peerDeleter(target) : undefined;
  const server = http.createServer((req, res) => {
    serve(store, decodeURIComponent(req.url.slice(1))).then(
      () => res.end('ok'),
      (error) => {
        res.statusCode = 500;
        res.end(String(error));
      },
    );
  });
  server.keepAliveTimeout = 5 * 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send({ port: server.address().port });
  await new Promise((resolve) => process.once('message', resolve));
  const start = performance.now();
  const pruned = peer ? await peer() : await store.prune();
  const seconds = (performance.now() - start) / 1000;
  process.send({ pruned, seconds });
  await new Promise((resolve) => process.once('message', resolve));
  server.closeAllConnections();
  server.close();
  await store.close();
}

/** One request's store work: the session loaded, then a change set applied (the row locked and written). */
async function serve(store, id) {
  await store.get(id);
  const now = Date.now();
  const changes = {
    clearData: false,
    clearFlash: false,
    set: { seen: now },
    deleted: [],
    flash: {},
    flashCleared: {},
  };
  const applied = await store.apply(id, changes, {
    createdAt: now - HOUR,
    lastActivity: now,
    expiresAt: now + HOUR,
    create: false,
  });
  if (!applied) throw new Error(`the live session ${id} was not applied`);
}

/** Another app instance's store: warmed up, prunes when told; reports { pruned, seconds }. */
async function pruner() {
  const DatabaseStore = await loadStore();
  const target = JSON.parse(process.argv[3]);
  const store = new DatabaseStore({
    dataSource: dataSourceOf(target),
    table: target.table,
    pruneInterval: 0,
  });
  await store.get('warm');
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  const start = performance.now();
  const pruned = await store.prune();
  const seconds = (performance.now() - start) / 1000;
  await store.close();
  process.send({ pruned, seconds });
}

/** A child process of this file; `first` resolves to its first message, `next()` to the one after. */
function spawn(role, argument) {
  const proc = fork(HERE, [role, JSON.stringify(argument)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages = [];
  const waiting = [];
  proc.on('message', (m) => (waiting.length > 0 ? waiting.shift().resolve(m) : messages.push(m)));
  proc.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${role} exited with ${code}`));
  });
  const next = () =>
    messages.length > 0
      ? Promise.resolve(messages.shift())
      : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return { next, send: (m) => proc.send(m), exited };
}

/**
 * Requests at `rate` a second to the app, each on a random live session, on keep-alive connections.
 * `stop()` waits for those in flight and resolves to { at, ms, ok } for each: when it was due, its
 * latency counted from then, whether it was answered with a 200.
 */
function loadOf(port, liveIds, rate) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const samples = [];
  const inFlight = new Set();
  const start = performance.now();
  let sent = 0;
  let timer;
  const send = (at) => {
    const id = liveIds[Math.floor(Math.random() * liveIds.length)];
    const done = new Promise((resolve) => {
      const finish = (ok) => {
        samples.push({ at, ms: performance.now() - at, ok });
        resolve();
      };
      const req = http.get({ host: '127.0.0.1', port, path: `/${encodeURIComponent(id)}`, agent }, (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode === 200));
      });
      req.on('error', () => finish(false));
    });
    inFlight.add(done);
    done.then(() => inFlight.delete(done));
  };
  const tick = () => {
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    for (; sent < due; sent++) send(start + (sent * 1000) / rate);
    timer = setTimeout(tick, 1);
  };
  tick();
  return async () => {
    clearTimeout(timer);
    await Promise.all(inFlight);
    agent.destroy();
    return samples;
  };
}

function percentile(sorted, p) {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** p50, p99, max and count of the requests due in [from, to). */
function latencies(samples, from, to) {
  const window = samples.filter((s) => s.at >= from && s.at < to);
  const sorted = window.map((s) => s.ms).sort((a, b) => a - b);
  return {
    requests: sorted.length,
    failed: window.filter((s) => !s.ok).length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
  };
}

/**
 * One measurement on a seeded target: the app process started, the load, the idle phase, then the
 * prune (`kind`: 'ours' with `stores` pruning processes, or 'peer') under the same load.
 */
async function measure(target, liveIds, kind, stores, options) {
  const settled = options.settle ? await settle(target) : undefined;
  const dirty = await dirtyPages(target);
  const others = kind === 'ours' ? Array.from({ length: stores - 1 }, () => spawn('--pruner', target)) : [];
  await Promise.all(others.map((o) => o.next()));
  const appProcess = spawn('--app', { target, kind });
  const { port } = await appProcess.next();
  const stop = loadOf(port, liveIds, options.rate);
  await sleep(WARM_UP);
  const idleFrom = performance.now();
  await sleep(options.idle);
  const pruneFrom = performance.now();
  appProcess.send('prune');
  others.forEach((o) => o.send('prune'));
  const results = await Promise.all([appProcess.next(), ...others.map((o) => o.next())]);
  const pruneTo = performance.now();
  const samples = await stop();
  appProcess.send('close');
  await Promise.all([appProcess.exited, ...others.map((o) => o.exited)]);
  const left = await countAndDrop(target);
  return {
    kind: kind === 'ours' ? `ours${stores > 1 ? ` x${stores}` : ''}` : 'peer DELETE',
    settled: settled === undefined ? 'no' : `${settled.seconds.toFixed(0)} s`,
    dirty: dirty ?? '',
    seconds: (pruneTo - pruneFrom) / 1000,
    pruned: results.reduce((sum, r) => sum + r.pruned, 0),
    perStore: results.map((r) => r.pruned),
    left,
    idle: latencies(samples, idleFrom, pruneFrom),
    prune: latencies(samples, pruneFrom, pruneTo),
  };
}

/** A fresh backlog for each measurement of one round: SQLite copies one seeded file. */
async function seeded(DatabaseStore, db, count, options, dir) {
  const name = () => `prune_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  if (db === 'sqlite') {
    const seed = { db, table: 'sessions', file: path.join(dir, `${name()}.sqlite`) };
    const liveIds = await seedSqlite(DatabaseStore, seed, options);
    const targets = Array.from({ length: count }, () => {
      const target = { ...seed, file: path.join(dir, `${name()}.sqlite`) };
      copyFileSync(seed.file, target.file);
      return target;
    });
    rmSync(seed.file);
    return targets.map((target) => ({ target, liveIds: () => Promise.resolve(liveIds) }));
  }
  return Array.from({ length: count }, () => {
    const target = { db, table: name() };
    return { target, liveIds: () => seedServer(DatabaseStore, target, options) };
  });
}

const ms = (value) => (Number.isFinite(value) ? value.toFixed(1) : '-');

/** "median (min-max)" of a figure over the repeats. */
function spreadOf(values, digits = 1) {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return '-';
  const m = median(finite).toFixed(digits);
  if (finite.length === 1) return m;
  return `${m} (${Math.min(...finite).toFixed(digits)}-${Math.max(...finite).toFixed(digits)})`;
}

/** One line per database and payload: the figures against the goal, medians over the repeats. */
function summaryTable(runs, options) {
  const lines = [
    '| database | rows | row size | idle p99 ms | prune p99 ms | p99 ratio | prune s | peer DELETE s | peer idle p99 ms | peer p99 ms | prune s / peer s | goals |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const db of options.dbs) {
    for (const payload of options.payloads) {
      const of = (kind) => runs.filter((r) => r.db === db && r.payload === payload && r.kind === kind);
      const ours = of('ours');
      const peer = of('peer DELETE');
      if (ours.length === 0) continue;
      const ratios = ours.map((r) => r.prune.p99 / r.idle.p99);
      const speed = ours.map((r, i) => (peer[i] ? r.seconds / peer[i].seconds : NaN));
      const p99Met = median(ratios) <= P99_GOAL;
      const speedMet = peer.length === 0 ? undefined : median(speed.filter(Number.isFinite)) <= 1;
      const goals = [
        `p99 ${p99Met ? 'met' : 'missed'}`,
        speedMet === undefined ? 'speed: no peer run' : `speed ${speedMet ? 'met' : 'missed'}`,
      ].join(', ');
      lines.push(
        `| ${db} | ${options.rows} + ${options.live} live | ${payload === 'small' ? '~30 B' : '~1 KB'} | ` +
          `${spreadOf(ours.map((r) => r.idle.p99))} | ${spreadOf(ours.map((r) => r.prune.p99))} | ` +
          `${spreadOf(ratios)}x | ${spreadOf(ours.map((r) => r.seconds))} | ${spreadOf(peer.map((r) => r.seconds))} | ` +
          `${spreadOf(peer.map((r) => r.idle.p99))} | ${spreadOf(peer.map((r) => r.prune.p99))} | ` +
          `${spreadOf(speed, 2)} | ${goals} |`,
      );
    }
  }
  return lines;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  await build();
  const DatabaseStore = await loadStore();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nest-session-prune-'));
  const load = [os.loadavg()[0]];
  const header =
    '| database | payload | run | measured | settled | dirty pages | seconds | pruned (per store) | rows left | ' +
    'idle requests | idle p50 ms | idle p99 ms | requests | failed | p50 ms | p99 ms | max ms |';
  const lines = [header, `|${' --- |'.repeat(17)}`];
  const runs = [];
  try {
    for (const db of options.dbs) {
      for (const payload of options.payloads) {
        log(`${db}: ${options.rows} expired + ${options.live} live rows, ${payload} payloads`);
        for (let run = 0; run < options.repeats; run++) {
          const kinds = [
            ...options.stores.map((stores) => ['ours', stores]),
            ...(options.peer ? [['peer', 1]] : []),
          ];
          if (run % 2 === 1) kinds.reverse();
          const backlogs = await seeded(DatabaseStore, db, kinds.length, { ...options, payload }, dir);
          for (const [i, [kind, stores]] of kinds.entries()) {
            const { target, liveIds } = backlogs[i];
            const r = await measure(target, await liveIds(), kind, stores, options);
            runs.push({ db, payload, ...r });
            const line =
              `| ${db} | ${payload} | ${run + 1} | ${r.kind} | ${r.settled} | ${r.dirty} | ${r.seconds.toFixed(2)} | ` +
              `${r.pruned} (${r.perStore.join(' + ')}) | ${r.left} | ${r.idle.requests} | ${ms(r.idle.p50)} | ` +
              `${ms(r.idle.p99)} | ${r.prune.requests} | ${r.prune.failed + r.idle.failed} | ${ms(r.prune.p50)} | ` +
              `${ms(r.prune.p99)} | ${ms(r.prune.max)} |`;
            log(line);
            lines.push(line);
            if (r.pruned !== options.rows || r.left !== options.live || r.prune.failed + r.idle.failed > 0) {
              log(`  expected ${options.rows} pruned, ${options.live} rows left and no failed request`);
              process.exitCode = 1;
            }
          }
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  load.push(os.loadavg()[0]);
  const m = machine();
  const section = [
    '## Prune under live traffic (`npm run bench:prune`)',
    '',
    `Command: \`npm run bench:prune -- ${process.argv.slice(2).join(' ')}\`. Machine: ${m.cpu}, ${m.cores} cores, ` +
      `${m.memoryGiB} GiB, ${m.os}, Node ${process.version}; load average ${load.map((l) => l.toFixed(1)).join(' then ')} ` +
      `(shared with other work: wall-clock figures are noisy). ${options.rate} requests/s (a store get and apply each) ` +
      `to the app process, open loop; idle phase ${options.idle / 1000} s right before each prune on the same backlog. ` +
      `Medians of ${options.repeats} run(s), (min-max) beside them.`,
    '',
    ...summaryTable(runs, options),
    '',
    'Every run:',
    '',
    ...lines,
    '',
  ].join('\n');
  process.stdout.write(`\n${section}`);
  if (options.out) writeFileSync(options.out, section);
}

if (process.argv[2] === '--app') await app();
else if (process.argv[2] === '--pruner') await pruner();
else await main();
