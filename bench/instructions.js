// Instructions per request, counted by valgrind (callgrind): where wall-clock noise on a shared
// machine hides a change of a few µs, counts repeat from run to run. Each server runs under
// `valgrind --tool=callgrind` with instrumentation off while it starts and takes its warm-up
// requests; then counters are zeroed, instrumentation turned on for a fixed number of requests
// (callgrind_control), turned off, dumped. Every thread is counted (V8's compiler and GC helpers
// included); kernel time is not.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { hasSession, bareNestOf, byId, routeOf } from './variants.js';
import { launchVariant, openSession } from './runs.js';

const run = promisify(execFile);

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
 * Resolves with [{ variant, route, runs: [instructions/request...], perRequest (median), sessionPerRequest?, note? }].
 * `plan`: [{ id, route }]; settings: { warmup, requests, connections, repeats }.
 */
export async function runInstructions(plan, ctx, { warmup, requests, connections, repeats, log }) {
  const rows = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const { id, route: routeName } of plan) {
      let row = rows.find((r) => r.variant === id && r.route === routeName);
      if (!row) rows.push((row = { variant: id, route: routeName, runs: [] }));
      if (row.note) continue;
      const variant = byId.get(id);
      const route = routeOf(variant, routeName);
      const result = await countOnce(variant, route, ctx, { warmup, requests, connections });
      if (result.note) {
        row.note = result.note;
        log(`  ${id} ${routeName}: ${result.note}`);
        continue;
      }
      row.runs.push(result.perRequest);
      log(
        `  ${id} ${routeName}: ${Math.round(result.perRequest).toLocaleString('en-US')} instructions/request`,
      );
    }
  }
  for (const row of rows) {
    if (row.note || row.runs.length === 0) continue;
    const sorted = [...row.runs].sort((a, b) => a - b);
    row.perRequest = sorted[sorted.length >> 1];
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

async function countOnce(variant, route, ctx, { warmup, requests, connections }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'nest-session-callgrind-'));
  try {
    const wrapper = [
      'valgrind',
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${path.join(dir, 'callgrind.out.%p')}`,
      '--quiet',
    ];
    // No extra V8 flags: a full GC just before the window (--expose-gc) made V8 warm up again inside
    // it (+60% and less repeatable), and --single-threaded made idle-time GC work depend on timing.
    const execArgv = [];
    const server = await launchVariant(variant, ctx, { wrapper, execArgv, startTimeoutMs: 600_000 });
    if (server.unavailable) return { note: server.unavailable };
    try {
      const jar = await openSession(server, variant);
      let cookie;
      if (route.cookie) cookie = hasSession(variant) ? jar.header() : BARE_COOKIE;
      const url = `http://127.0.0.1:${server.port}${route.path}`;
      const headers = cookie ? { cookie } : {};
      // Requests under valgrind on a busy machine can take seconds: a generous timeout.
      const load = { url, connections, headers, timeout: 120 };
      const warm = await ctx.load.run({ ...load, amount: warmup });
      if (warm.requests < warmup - 1) {
        throw new Error(`warm-up: ${warm.requests} of ${warmup} requests answered 2xx`);
      }
      const control = (...args) => run('callgrind_control', [...args, String(server.pid)]);
      await control('--zero');
      await control('--instr=on');
      const measured = await ctx.load.run({ ...load, amount: requests });
      await control('--instr=off');
      await control('--dump');
      // autocannon may leave the last request of a fixed amount uncounted: divide by what was answered.
      const answered = measured.requests + measured.non2xx;
      if (measured.non2xx + measured.errors > 0 || answered < requests - 1) {
        throw new Error(
          `${measured.requests} of ${requests} requests answered 2xx, ${measured.errors} errors`,
        );
      }
      const instructions = await totals(dir);
      return { perRequest: instructions / answered };
    } catch (error) {
      return { note: `broken: ${error.message}` };
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The Ir total of the dump(s) callgrind wrote after the zeroing (each ".N" part file). */
async function totals(dir) {
  const files = (await readdir(dir)).filter((name) => /^callgrind\.out\.\d+\.\d+$/.test(name));
  let sum = 0;
  for (const name of files) {
    const text = await readFile(path.join(dir, name), 'utf8');
    const match = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
    if (match) sum += Number(match[1]);
  }
  if (sum === 0) throw new Error('callgrind wrote no counts');
  return sum;
}
