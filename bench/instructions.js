// Instructions per request, counted by valgrind (callgrind): where wall-clock noise on a shared
// machine hides a change of a few µs, counts repeat from run to run. Each server runs under
// `valgrind --tool=callgrind --separate-threads=yes` with instrumentation off while it starts and
// takes its warm-up requests (long enough for V8 to finish tiering the route's code up); then
// counters are zeroed and instrumentation turned on for a fixed number of requests, in two halves
// dumped one after the other (callgrind_control). From each thread's call graph, the work of V8's
// collector and compiler is taken out and reported beside: what remains on the JavaScript thread
// is the row's figure (see bench/callgrind.js and bench/README.md).
import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { promisify } from 'node:util';
import { readCallgrind, splitThread } from './callgrind.js';
import { hasSession, bareNestOf, byId, routeOf } from './variants.js';
import { get } from './http-client.js';
import { launchVariant, openSession } from './runs.js';

const run = promisify(execFile);

/**
 * V8 flags of the servers under valgrind. The memory reducer starts a full GC when the allocation
 * rate per millisecond looks low, which under valgrind (tens of times slower) it always does; the
 * minor GC task starts a scavenge from the event loop once the young generation is 80% full,
 * earlier or later depending on how long a loop turn takes. Both make the GC in the window depend
 * on the machine's speed and load; without them V8 collects when an allocation finds the space
 * full, which depends only on what the requests allocate. Neither changes the code that runs.
 */
export const V8_FLAGS = ['--no-memory-reducer', '--no-minor-gc-task'];

/**
 * `BENCH_KEEP_CALLGRIND=dir`: each count's callgrind output is kept in dir/<variant>-<route>/ with the
 * per-instruction costs and V8's map of its generated code (`--perf-basic-prof`), which
 * `node bench/instr-profile.js dir/<variant>-<route>` turns into instructions per JavaScript function.
 */
const KEEP = process.env.BENCH_KEEP_CALLGRIND;

async function keep(dir, name) {
  const to = path.join(KEEP, name);
  await mkdir(to, { recursive: true });
  const pids = new Set();
  for (const file of await readdir(dir)) {
    await copyFile(path.join(dir, file), path.join(to, file));
    const pid = /^callgrind\.out\.(\d+)/.exec(file)?.[1];
    if (pid !== undefined) pids.add(pid);
  }
  // V8 writes its map to /tmp/perf-<pid>.map: this count's own (other counts may run beside it).
  for (const file of await readdir('/tmp')) {
    const pid = /^perf-(\d+)\.map$/.exec(file)?.[1];
    if (pid === undefined || !pids.has(pid)) continue;
    await copyFile(path.join('/tmp', file), path.join(to, file));
    await rm(path.join('/tmp', file));
  }
}

/**
 * A Cookie header as long as the memory driver's session cookie (100 bytes), sent to the apps without
 * a session on routes where the others get their session cookie: the HTTP parser reads as much.
 */
export const BARE_COOKIE = `nest_session=${'x'.repeat(87)}`;

/** Why the phase cannot run here, or undefined. */
export function instructionsUnavailable() {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['-h'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'valgrind is not installed (`apt-get install -y valgrind`)';
  }
}

/**
 * Resolves with [{ variant, route, runs: [{ perRequest, gc, jit, other, drift }], perRequest
 * (median), gc, jit, other (medians), spread, sessionPerRequest?, note? }], figures per request.
 * `plan`: [{ id, route, warmup?, requests?, settle? }] (a row's own warm-up, window and instrumented
 * requests before the count, when it needs them: bench/README.md);
 * settings: { warmup, requests, connections, repeats }.
 */
export async function runInstructions(plan, ctx, { warmup, requests, connections, repeats, log }) {
  const rows = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const { id, route: routeName, ...own } of plan) {
      let row = rows.find((r) => r.variant === id && r.route === routeName);
      if (!row) rows.push((row = { variant: id, route: routeName, runs: [] }));
      if (row.note) continue;
      const variant = byId.get(id);
      const route = routeOf(variant, routeName);
      // Once per row: the store calls a request makes, on a server of its own (see storeCallsOf).
      if (repeat === 0 && hasSession(variant) && variant.kind === 'nest') {
        row.storeCalls = await storeCallsOf(variant, route, ctx).catch((error) => {
          log(`  ${id} ${routeName}: store calls not counted: ${error.message}`);
          return undefined;
        });
        if (row.storeCalls) log(`  ${id} ${routeName}: store calls/request ${describeCalls(row.storeCalls)}`);
      }
      const result = await countOnce(variant, route, ctx, {
        warmup: Math.max(warmup, own.warmup ?? 0),
        requests: Math.max(requests, own.requests ?? 0),
        connections,
        settle: own.settle,
      });
      if (result.note) {
        row.note = result.note;
        log(`  ${id} ${routeName}: ${result.note}`);
        continue;
      }
      row.runs.push(result);
      const k = (n) => `${(n / 1000).toFixed(1)} k`;
      log(
        `  ${id} ${routeName}: ${Math.round(result.perRequest).toLocaleString('en-US')} instructions/request` +
          ` (GC ${k(result.gc)}, JIT ${k(result.jit)}, other threads ${k(result.other)}; ` +
          `second half ${signedPercent(result.drift)})`,
      );
    }
  }
  for (const row of rows) {
    if (row.note || row.runs.length === 0) continue;
    row.perRequest = median(row.runs.map((r) => r.perRequest));
    row.gc = median(row.runs.map((r) => r.gc));
    row.jit = median(row.runs.map((r) => r.jit));
    row.other = median(row.runs.map((r) => r.other));
    const counts = row.runs.map((r) => r.perRequest);
    row.spread = (Math.max(...counts) - Math.min(...counts)) / row.perRequest;
  }
  // Without the session: the bare Nest app on the same adapter and route (counter for the new paths).
  for (const row of rows) {
    const variant = byId.get(row.variant);
    if (row.perRequest === undefined || !hasSession(variant)) continue;
    const baseRoute = routeOf(variant, row.route)?.base ?? row.route;
    const bare = rows.find((r) => r.variant === bareNestOf(variant) && r.route === baseRoute);
    if (bare?.perRequest !== undefined) row.sessionPerRequest = row.perRequest - bare.perRequest;
  }
  return rows;
}

async function countOnce(variant, route, ctx, { warmup, requests, connections, settle = 0 }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'nest-session-callgrind-'));
  try {
    const wrapper = [
      'valgrind',
      '--tool=callgrind',
      '--instr-atstart=no',
      '--separate-threads=yes',
      `--callgrind-out-file=${path.join(dir, 'callgrind.out.%p')}`,
      '--quiet',
      ...(KEEP ? ['--dump-instr=yes'] : []),
    ];
    const server = await launchVariant(variant, ctx, {
      wrapper,
      execArgv: KEEP ? [...V8_FLAGS, '--perf-basic-prof'] : V8_FLAGS,
      startTimeoutMs: 600_000,
    });
    if (server.unavailable) return { note: server.unavailable };
    try {
      const jar = await openSession(server, variant, { signIn: route.signIn });
      let cookie;
      if (route.cookie) cookie = hasSession(variant) ? jar.header() : BARE_COOKIE;
      const url = `http://127.0.0.1:${server.port}${route.path}`;
      const headers = cookie ? { cookie } : {};
      // Requests under valgrind on a busy machine can take seconds: a generous timeout.
      const load = { url, connections, headers, timeout: 120 };
      // The warm-up is the window's load repeated: runs of `requests / 2` on fresh connections, so
      // that opening and closing connections is as warm as the requests themselves.
      const chunk = requests >> 1;
      for (let done = 0; done < warmup; done += chunk) {
        const warm = await ctx.load.run({ ...load, amount: chunk });
        if (warm.requests < chunk - connections || warm.non2xx + warm.errors > 0) {
          throw new Error(
            `warm-up: ${warm.requests} of ${chunk} requests answered 2xx, ${warm.errors} errors`,
          );
        }
      }
      const control = (...args) => run('callgrind_control', [...args, String(server.pid)]);
      if (settle > 0) {
        // Instrumented before the count: the server runs at valgrind's instrumented pace (several
        // times slower) before the window, so replies are batched as they will be while it is counted.
        await control('--instr=on');
        for (let done = 0; done < settle; done += chunk) await ctx.load.run({ ...load, amount: chunk });
        await control('--zero');
      } else {
        await control('--zero');
        await control('--instr=on');
      }
      // Two halves, each dumped (callgrind.out.<pid>.1-* and .2-*): the second one shows whether
      // the count still moves (code still being tiered up) while the window runs.
      const halves = [];
      for (const amount of [chunk, requests - chunk]) {
        const measured = await ctx.load.run({ ...load, amount });
        await control('--dump');
        // autocannon may leave the last requests of a fixed amount uncounted: divide by what was answered.
        const answered = measured.requests + measured.non2xx;
        if (measured.non2xx + measured.errors > 0 || answered < amount - connections) {
          throw new Error(
            `${measured.requests} of ${amount} requests answered 2xx, ${measured.errors} errors`,
          );
        }
        halves.push(answered);
      }
      await control('--instr=off');
      const parts = await threadSplits(dir, server.pid);
      const answered = halves[0] + halves[1];
      const sum = (key) => parts.reduce((s, p) => s + p.threads.reduce((t, x) => t + x[key], 0), 0);
      const program = parts.map((p) => p.threads[0]?.program ?? 0);
      const other = parts.reduce((s, p) => s + p.threads.slice(1).reduce((t, x) => t + x.program, 0), 0);
      return {
        perRequest: (program[0] + program[1]) / answered,
        gc: sum('gc') / answered,
        jit: sum('jit') / answered,
        other: other / answered,
        drift: program[1] / halves[1] / (program[0] / halves[0]) - 1,
      };
    } catch (error) {
      return { note: `broken: ${error.message}` };
    } finally {
      await server.stop();
    }
  } finally {
    if (KEEP) await keep(dir, `${variant.id}-${route.name}`);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Requests the store calls are counted over, after as many thrown away. */
const STORE_CALL_REQUESTS = 200;

/**
 * The calls one request of the row makes to the session stores, per store and method (`get`,
 * `apply` and their synchronous forms; the cookie driver's revocation store as `revocation <name>`),
 * e.g. { memory: { getNow: 1, applyNow: 1 } }: the server counts them (countStoreCalls), which wraps
 * the stores' methods, so it is a server of its own, outside valgrind. Requests one at a time.
 */
async function storeCallsOf(variant, route, ctx) {
  const counting = { ...variant, config: { ...variant.config, countStoreCalls: true } };
  const server = await launchVariant(counting, ctx);
  if (server.unavailable) return undefined;
  try {
    const jar = await openSession(server, variant, { signIn: route.signIn });
    const send = async (times) => {
      for (let i = 0; i < times; i++) {
        const answer = await get(server.port, route.path, { jar: route.cookie ? jar : undefined });
        if (answer.status !== 200) throw new Error(`GET ${route.path} answered ${answer.status}`);
      }
    };
    const calls = async () => (await get(server.port, '/store-calls')).body;
    await send(STORE_CALL_REQUESTS);
    const before = await calls();
    await send(STORE_CALL_REQUESTS);
    const after = await calls();
    const perRequest = {};
    for (const [store, methods] of Object.entries(after)) {
      for (const [method, count] of Object.entries(methods)) {
        const n = (count - before[store][method]) / STORE_CALL_REQUESTS;
        if (n > 0) (perRequest[store] ??= {})[method] = n;
      }
    }
    return perRequest;
  } finally {
    await server.stop();
  }
}

/**
 * The two dumps' files, callgrind.out.<pid>.<part>-<thread>: for each part, every thread's split
 * (bench/callgrind.js), the JavaScript thread (thread 1) first.
 */
async function threadSplits(dir, pid) {
  const parts = [];
  for (const name of await readdir(dir)) {
    const match = new RegExp(`^callgrind\\.out\\.${pid}\\.(\\d+)-(\\d+)$`).exec(name);
    if (!match) continue;
    const part = Number(match[1]) - 1;
    parts[part] ??= { threads: [] };
    parts[part].threads[Number(match[2]) - 1] = splitThread(await readCallgrind(path.join(dir, name)));
  }
  if (parts.length !== 2 || !parts.every((p) => p?.threads[0]?.total > 0)) {
    throw new Error('callgrind wrote no counts for the JavaScript thread');
  }
  for (const p of parts) p.threads = p.threads.filter(Boolean);
  return parts;
}

/** Store calls per request as one line: `memory getNow 1, applyNow 1; revocation memory getNow 1`. */
export function describeCalls(calls) {
  const stores = Object.entries(calls).map(
    ([store, methods]) =>
      `${store} ${Object.entries(methods)
        .map(([method, n]) => `${method} ${Number(n.toFixed(2))}`)
        .join(', ')}`,
  );
  return stores.length ? stores.join('; ') : 'none';
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function signedPercent(x) {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`;
}
