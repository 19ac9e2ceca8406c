// `npm run bench:prune`: how long the database driver's prune() takes on a backlog of expired rows,
// with 1 store and with 3 stores in 3 processes pruning at once, and whether requests (store get and
// apply on live sessions, made meanwhile from another process) are still answered promptly.
// Needs the servers of NEST_SESSION_MARIADB_URL and/or NEST_SESSION_PG_URL (`source
// .ci/tmp/services.env` after `bash .ci/services.sh start`). Not part of `npm run bench`.
// Options: --db=mariadb,postgres (default: those whose URL is set); --rows=N expired rows (default
// 300000); --live=N live rows (default 5000); --small (payloads of about 30 bytes instead of 1 KB);
// --stores=1,3 (the store counts to run); --repeats=N (each measurement N times, fresh table each);
// --no-settle (time the prune right after seeding, see below).
//
// The timing starts only once the seed's own writes have settled: a backlog in production builds up
// over hours and sits on disk, whereas right after seeding 300 000 rows of 1 KB the server is still
// writing them out (MariaDB: the buffer pool is mostly dirty pages, flushed in the background, which
// the prune would compete with). So after seeding, MariaDB is polled until its dirty pages are few
// (Innodb_buffer_pool_pages_dirty) or no longer being flushed, and its purge is done
// (Innodb_history_list_length); PostgreSQL gets VACUUM ANALYZE and a CHECKPOINT (when the user may
// run it). The seconds this took and the dirty pages left are printed. --no-settle times the prune
// right after the seed, as before.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, libPath } from './build.js';

const HERE = fileURLToPath(import.meta.url);
const URLS = { mariadb: 'NEST_SESSION_MARIADB_URL', postgres: 'NEST_SESSION_PG_URL' };
const HOUR = 60 * 60 * 1000;
const log = (line) => process.stderr.write(`${line}\n`);

function dataSourceOf(db) {
  const url = process.env[URLS[db]];
  return db === 'postgres' ? { type: 'postgres', url } : { type: 'mariadb', url };
}

async function loadStore() {
  const { DatabaseStore } = await import(pathToFileURL(libPath('stores/database.store')).href);
  return DatabaseStore;
}

function parseArgs(argv) {
  const flags = Object.fromEntries(
    argv.map((arg) => {
      const [key, value] = arg.replace(/^--/, '').split('=');
      return [key, value ?? true];
    }),
  );
  const dbs = flags.db
    ? String(flags.db).split(',')
    : Object.keys(URLS).filter((db) => process.env[URLS[db]]);
  for (const db of dbs) {
    if (!(db in URLS)) throw new Error(`--db: mariadb or postgres, not ${db}`);
    if (!process.env[URLS[db]]) throw new Error(`${URLS[db]} is not set (source .ci/tmp/services.env)`);
  }
  if (dbs.length === 0) throw new Error('set NEST_SESSION_MARIADB_URL or NEST_SESSION_PG_URL');
  return {
    dbs,
    rows: Number(flags.rows ?? 300_000),
    live: Number(flags.live ?? 5000),
    small: flags.small === true,
    stores: String(flags.stores ?? '1,3')
      .split(',')
      .map(Number),
    repeats: Number(flags.repeats ?? 1),
    settle: flags['no-settle'] !== true,
  };
}

/** Session ids as the library makes them: 32 random bytes, base64url (expired and live rows interleave). */
const newId = () => randomBytes(32).toString('base64url');

/**
 * A fresh table (created by the store itself), `rows` expired rows with expiry times spread over the
 * past day, and `live` rows expiring in an hour, 1000 rows to a multi-row INSERT. Resolves to the live ids.
 */
async function seed(DatabaseStore, db, table, { rows, live, small }) {
  const creator = new DatabaseStore({ dataSource: dataSourceOf(db), table, pruneInterval: 0 });
  await creator.get('creates the table');
  await creator.close();
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(db)).initialize();
  const filler = small ? '' : 'x'.repeat(1000);
  const now = Date.now();
  const liveIds = [];
  try {
    for (let start = 0; start < rows + live; start += 1000) {
      const params = [];
      const values = [];
      for (let i = start; i < Math.min(start + 1000, rows + live); i++) {
        const id = newId();
        const expired = i < rows;
        if (!expired) liveIds.push(id);
        const expiresAt = expired ? now - 1000 - Math.floor(Math.random() * 24 * HOUR) : now + HOUR;
        params.push(
          id,
          JSON.stringify({ data: { n: i, filler }, flash: {} }),
          expiresAt,
          expiresAt - HOUR,
          expiresAt - HOUR,
        );
        const at = (k) => (db === 'postgres' ? `$${params.length - 4 + k}` : '?');
        values.push(`(${at(0)}, ${at(1)}, ${at(2)}, ${at(3)}, ${at(4)})`);
      }
      await dataSource.query(
        `INSERT INTO ${table} (id, payload, expires_at, last_activity, created_at) VALUES ${values.join(', ')}`,
        params,
      );
    }
    if (db === 'postgres') await dataSource.query(`VACUUM ANALYZE ${table}`);
    else await dataSource.query(`ANALYZE TABLE ${table}`);
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
 * seconds waited and, on MariaDB, the dirty pages left.
 */
async function settle(db) {
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(db)).initialize();
  const start = performance.now();
  try {
    if (db === 'postgres') {
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

async function dirtyPages(db) {
  if (db !== 'mariadb') return undefined;
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(db)).initialize();
  try {
    const [row] = await dataSource.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
    return Number(row.Value);
  } finally {
    await dataSource.destroy();
  }
}

async function countAndDrop(db, table) {
  const { DataSource } = await import('typeorm');
  const dataSource = await new DataSource(dataSourceOf(db)).initialize();
  try {
    const [row] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${table}`);
    return Number(row.n);
  } finally {
    await dataSource.query(`DROP TABLE IF EXISTS ${table}`);
    await dataSource.destroy();
  }
}

/** A child process: one store, warmed up, prunes when told; reports { pruned, seconds }. */
async function child() {
  const DatabaseStore = await loadStore();
  const [db, table] = process.argv.slice(3);
  const store = new DatabaseStore({ dataSource: dataSourceOf(db), table, pruneInterval: 0 });
  await store.get('warm');
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  const start = performance.now();
  const pruned = await store.prune();
  const seconds = (performance.now() - start) / 1000;
  await store.close();
  process.send({ pruned, seconds });
}

function startPruner(db, table) {
  const proc = fork(HERE, ['--child', db, table], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise((resolve, reject) => {
    proc.once('message', resolve);
    proc.once('exit', (code) => reject(new Error(`pruner exited with ${code}`)));
  });
  const done = new Promise((resolve, reject) => {
    proc.on('message', (m) => m.pruned !== undefined && resolve(m));
    proc.once('exit', (code) => code !== 0 && reject(new Error(`pruner exited with ${code}`)));
  });
  return { ready, go: () => proc.send('go'), done };
}

/**
 * Requests while the pruners run: 4 loops in this process, each alternating a get and an apply
 * (a write that locks the row) on a random live session, back to back. Resolves to their latencies in ms.
 */
function requestStream(store, liveIds) {
  const latencies = [];
  let stop = false;
  const loop = async () => {
    while (!stop) {
      const id = liveIds[Math.floor(Math.random() * liveIds.length)];
      let start = performance.now();
      await store.get(id);
      latencies.push(performance.now() - start);
      const now = Date.now();
      const changes = {
        clearData: false,
        clearFlash: false,
        set: { seen: now },
        deleted: [],
        flash: {},
        flashCleared: {},
      };
      start = performance.now();
      await store.apply(id, changes, {
        createdAt: now - HOUR,
        lastActivity: now,
        expiresAt: now + HOUR,
        create: false,
      });
      latencies.push(performance.now() - start);
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  return async () => {
    stop = true;
    await Promise.all(loops);
    return latencies;
  };
}

function percentile(sorted, p) {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function measure(DatabaseStore, db, stores, options) {
  const table = `prune_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const liveIds = await seed(DatabaseStore, db, table, options);
  const settled = options.settle ? await settle(db) : undefined;
  const dirty = await dirtyPages(db);
  const pruners = Array.from({ length: stores }, () => startPruner(db, table));
  await Promise.all(pruners.map((p) => p.ready));
  const requester = new DatabaseStore({ dataSource: dataSourceOf(db), table, pruneInterval: 0 });
  await requester.get(liveIds[0]);
  const stopRequests = requestStream(requester, liveIds);
  const start = performance.now();
  pruners.forEach((p) => p.go());
  const results = await Promise.all(pruners.map((p) => p.done));
  const seconds = (performance.now() - start) / 1000;
  const latencies = (await stopRequests()).sort((a, b) => a - b);
  await requester.close();
  const left = await countAndDrop(db, table);
  return {
    seconds,
    settled: settled === undefined ? 'no' : `${settled.seconds.toFixed(0)} s`,
    dirty: dirty ?? '',
    pruned: results.reduce((sum, r) => sum + r.pruned, 0),
    perStore: results.map((r) => r.pruned),
    left,
    requests: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1],
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  await build();
  const DatabaseStore = await loadStore();
  const payload = options.small ? 'small payloads' : '1 KB payloads';
  log(`${options.rows} expired + ${options.live} live rows, ${payload}`);
  const header =
    '| database | stores | settled | dirty pages | seconds | pruned (per store) | rows left | requests | p50 ms | p99 ms | max ms |';
  const lines = [header, '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const db of options.dbs) {
    for (const stores of options.stores) {
      for (let run = 0; run < options.repeats; run++) {
        const r = await measure(DatabaseStore, db, stores, options);
        const line =
          `| ${db} | ${stores} | ${r.settled} | ${r.dirty} | ${r.seconds.toFixed(2)} | ${r.pruned} (${r.perStore.join(' + ')}) | ${r.left} | ` +
          `${r.requests} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`;
        log(line);
        lines.push(line);
        if (r.pruned !== options.rows || r.left !== options.live) {
          log(`  expected ${options.rows} pruned and ${options.live} rows left`);
          process.exitCode = 1;
        }
      }
    }
  }
  process.stdout.write(
    `\n${payload}, ${options.rows} expired + ${options.live} live rows\n\n${lines.join('\n')}\n`,
  );
}

if (process.argv[2] === '--child') await child();
else await main();
