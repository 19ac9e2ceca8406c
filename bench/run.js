// `npm run bench` (about 100 min, writes bench/RESULTS.md) or `npm run bench -- --quick` (about 7
// min on an idle machine, prints only). What does nest-session cost per request on Node 24, next
// to the peers hosted in a Nest app, and does it lose data under load? Node 20 and 22 run the
// headline variants alongside.
// Options: --quick; --instructions (only the valgrind instruction counts); --only=id,id (variants,
// see variants.js); --skip=throughput,growth,lost,heap,own,profile,instructions; --nodes=24 (which
// Nodes, default 20,22,24); --repeats=N (instruction counts: runs per row); --routes=name,name
// (instruction counts: only these routes); --rounds=N (throughput and growth rounds of a full run,
// default 3: still a full run, which writes RESULTS.md); --warmup=N, --requests=N (instruction
// counts: warm-up and counted requests per row, default 40 000 and 2 000; a row that names more in
// variants.js keeps its own).
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { ROOT, build } from './build.js';
import { evaluateGoals } from './goals.js';
import { runGrowth } from './growth.js';
import { measureHeap } from './heap.js';
import { startLoadGenerator } from './load.js';
import { runLostUpdates } from './lost-updates.js';
import { machine, versions } from './machine.js';
import { profileRun } from './profile.js';
import { startRedis } from './redis.js';
import { renderInstructions, renderReport } from './report.js';
import { instructionsUnavailable, runInstructions } from './instructions.js';
import { MAJORS, PRIMARY, ensureRuntime } from './runtimes.js';
import { costFinder, ratioFinder, summarize } from './stats.js';
import { runThroughput } from './throughput.js';
import {
  GROWTH_VARIANTS,
  INSTRUCTION_VARIANTS,
  LOST_UPDATE_VARIANTS,
  PATH_ROUTES,
  ROUTES,
  VARIANTS,
  bareNestOf,
  baselineOf,
  byId,
  routesOf,
} from './variants.js';

const FULL = {
  throughput: { rounds: 3, warmup: 3, duration: 5, connections: 50 },
  growth: { rounds: 3, warmup: 1.5, duration: 3, connections: 50 },
  lost: { connections: 50, writesPerConnection: 20 },
  heapSessions: 100_000,
  own: { warmup: 2, duration: 4, connections: 50, interval: 100 },
  profile: { warmup: 3, duration: 6, connections: 50 },
  instructions: { warmup: 40_000, requests: 2000, connections: 10, repeats: 1 },
};
const QUICK = {
  throughput: { rounds: 1, warmup: 0.4, duration: 0.8, connections: 50 },
  growth: { rounds: 1, warmup: 0.3, duration: 0.5, connections: 50 },
  lost: { connections: 50, writesPerConnection: 4 },
  heapSessions: 100_000,
  own: { warmup: 0.5, duration: 1.5, connections: 50, interval: 100 },
  profile: undefined,
  instructions: { warmup: 40_000, requests: 2000, connections: 10, repeats: 1 },
};

const log = (line) => process.stderr.write(`${line}\n`);

function parseArgs(argv) {
  const value = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const list = (name) => value(name)?.split(',').filter(Boolean);
  const args = {
    quick: argv.includes('--quick'),
    instructionsOnly: argv.includes('--instructions'),
    only: list('only'),
    routes: list('routes'),
    skip: new Set(list('skip') ?? []),
    nodes: (list('nodes') ?? MAJORS.map(String)).map(Number),
    repeats: value('repeats') === undefined ? undefined : Number(value('repeats')),
    rounds: value('rounds') === undefined ? undefined : Number(value('rounds')),
    warmup: value('warmup') === undefined ? undefined : Number(value('warmup')),
    requests: value('requests') === undefined ? undefined : Number(value('requests')),
  };
  if (args.requests !== undefined && !(Number.isInteger(args.requests) && args.requests >= 100))
    throw new Error('--requests takes a whole number of requests from 100');
  if (args.warmup !== undefined && !(Number.isInteger(args.warmup) && args.warmup >= 0))
    throw new Error('--warmup takes a whole number of requests from 0');
  if (args.rounds !== undefined && !(Number.isInteger(args.rounds) && args.rounds >= 1))
    throw new Error('--rounds takes a whole number from 1');
  const unknown = (args.only ?? []).filter((id) => !byId.has(id));
  if (unknown.length) throw new Error(`unknown variant(s) ${unknown.join(', ')}; see bench/variants.js`);
  if (args.nodes.some((n) => !MAJORS.includes(n))) throw new Error(`--nodes takes ${MAJORS.join(', ')}`);
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const base = args.quick ? QUICK : FULL;
  const settings =
    args.rounds === undefined
      ? base
      : {
          ...base,
          throughput: { ...base.throughput, rounds: args.rounds },
          growth: { ...base.growth, rounds: args.rounds },
        };
  const pick = (ids) => ids.filter((id) => !args.only || args.only.includes(id)).map((id) => byId.get(id));
  const started = Date.now();
  const loadBefore = os.loadavg()[0];

  log(`nest-session bench (${args.instructionsOnly ? 'instructions' : args.quick ? 'quick' : 'full'}):`);
  // Node 24 first (the figures that count), then the others; one not available is reported and left out.
  const wanted = args.instructionsOnly ? args.nodes.filter((n) => n === PRIMARY) : args.nodes;
  const majors = [...new Set(wanted.length ? wanted : [PRIMARY])].sort((a, b) =>
    a === PRIMARY ? -1 : b === PRIMARY ? 1 : a - b,
  );
  // Fetched and installed side by side the first time (building better-sqlite3 takes minutes).
  const prepared = await Promise.all(majors.map((major) => ensureRuntime(major, log)));
  for (const r of prepared)
    log(r.unavailable ? `  Node ${r.major}: ${r.unavailable}` : `  Node ${r.major}: ${r.version}`);
  const runtimes = prepared.filter((r) => !r.unavailable).sort((a, b) => a.major - b.major);
  if (runtimes.length === 0)
    runtimes.push(await ensureRuntime(Number(process.versions.node.split('.')[0]), log));
  // The goals are read on Node 24; without it (or with --nodes leaving it out), on the newest Node run.
  const primary = runtimes.find((r) => r.major === PRIMARY) ?? runtimes[runtimes.length - 1];
  if (primary.major !== PRIMARY) log(`  the goals are read on Node ${primary.version}, not ${PRIMARY}`);
  log('  compiling lib/ and bench/servers/ ...');
  log(`  ${await build(runtimes.map((r) => r.root))} files compiled`);
  const redis = await startRedis();
  log(
    redis.unavailable
      ? `  redis variants skipped: ${redis.unavailable}`
      : `  redis-server ${redis.version} at ${redis.url}`,
  );
  // Taken now: the versions (and lib/'s commit) the compiled copy was made from.
  const stack = versions(redis.version, runtimes, primary);
  const load = startLoadGenerator();
  const ctx = { secret: 'bench-secret-0123456789abcdef0123456789', redis, load, runtimes, primary };

  if (args.instructionsOnly) {
    try {
      const rows = await instructionsPhase(args, settings, ctx, pick);
      process.stdout.write(`\n${renderInstructions(rows, primary)}\n`);
      log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
    } finally {
      load.close();
      if (!redis.unavailable) await redis.stop();
    }
    return;
  }

  try {
    const empty = { samples: [], notes: new Map() };
    let throughput = empty;
    if (!args.skip.has('throughput')) {
      log('throughput:');
      throughput = await runThroughput(pick(VARIANTS.map((v) => v.id)), ctx, { ...settings.throughput, log });
    }
    let growth = empty;
    if (!args.skip.has('growth')) {
      log('growth:');
      growth = await runGrowth(pick(GROWTH_VARIANTS), ctx, { ...settings.growth, log });
    }
    let lostRows = [];
    if (!args.skip.has('lost')) {
      log('lost updates:');
      lostRows = await runLostUpdates(pick(LOST_UPDATE_VARIANTS), ctx, { ...settings.lost, log });
    }
    let heap = [];
    if (!args.skip.has('heap')) {
      log(`heap per session (${settings.heapSessions} sessions):`);
      heap = [
        await measureHeap('nest-memory', settings.heapSessions, primary),
        await measureHeap('express-session', settings.heapSessions, primary),
      ];
      for (const h of heap) log(`  ${h.store}: ${h.error ?? `${Math.round(h.heapPerSession)} B/session`}`);
    }

    // lib/'s own CPU per request: every nest-session variant profiled on its first route.
    const own = [];
    if (!args.skip.has('own')) {
      log(`lib/ own CPU per request (--cpu-prof, Node ${primary.major}):`);
      for (const variant of pick(VARIANTS.filter((v) => v.kind === 'nest').map((v) => v.id))) {
        if (throughput.notes.get(variant.id)?.startsWith('skipped')) {
          own.push({ variant: variant.id, note: throughput.notes.get(variant.id) });
          continue;
        }
        const route = routesOf(variant)[0];
        // A variant that fails here gets a note; the run and the phases before it are kept.
        const p = await profileRun(variant, route, ctx, settings.own).catch((error) => ({
          variant: variant.id,
          route: route.name,
          note: `failed: ${error instanceof Error ? error.message : String(error)}`,
        }));
        // The profiler slows everything down: its share for lib/ applied to the server CPU per
        // request measured without it (throughput phase, same route) gives the figure to read.
        const plain = summarize(throughput.samples, (x) => x.route).get(`${variant.id}|${route.name}`);
        if (!p.note && plain) p.scaledUsPerReq = (p.libOwnUsPerReq / p.busyUsPerReq) * plain.serverUsPerReq;
        own.push(p);
        log(
          `  ${variant.id} ${route.name}: ${p.note ?? `${p.libOwnUsPerReq.toFixed(1)} µs of ${p.busyUsPerReq.toFixed(1)} µs busy under the profiler`}`,
        );
      }
    }

    let instructions = [];
    if (!args.quick && !args.skip.has('instructions'))
      instructions = await instructionsPhase(args, settings, ctx, pick);

    const ratios = ratioFinder(throughput.samples, throughput.notes);
    const baseRouteOf = (route) => PATH_ROUTES[route]?.base ?? route;
    const costs = costFinder(throughput.samples, throughput.notes, baselineOf, baseRouteOf);
    const goals = evaluateGoals({ ratios, costs, own, heap, lost: lostRows, instructions });
    const profiles = [];
    if (settings.profile && !args.skip.has('profile')) {
      const done = new Set();
      const profile = async (variantId, routeName, why) => {
        if (done.has(`${variantId}|${routeName}`)) return;
        done.add(`${variantId}|${routeName}`);
        log(`profiling ${variantId} ${routeName}${why}`);
        const route = routesOf(byId.get(variantId)).find((r) => r.name === routeName) ?? ROUTES[0];
        profiles.push(
          await profileRun(byId.get(variantId), route, ctx, settings.profile).catch((error) => ({
            variant: variantId,
            route: route.name,
            note: `failed: ${error instanceof Error ? error.message : String(error)}`,
          })),
        );
      };
      for (const goal of goals.filter(
        (g) => g.status === 'missed' && (g.kind === 'ratio' || g.kind === 'cost-ratio'),
      )) {
        await profile(goal.variant, goal.route, ` (missed: ${goal.text} ${goal.figure})`);
        await profile(bareNestOf(byId.get(goal.variant)), goal.route, ' (for comparison)');
      }
    }

    const report = renderReport({
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      quick: args.quick,
      machine: { ...machine(), load: [loadBefore, os.loadavg()[0]] },
      versions: stack,
      settings: settings.throughput,
      runtimes,
      primary,
      goals,
      throughput,
      ratios,
      costs,
      own,
      instructions,
      growth,
      lost: {
        settings: `${settings.lost.connections} connections at once, each writing ${settings.lost.writesPerConnection} keys of its own, one after the other, into one session; all share one cookie jar (the latest Set-Cookie wins, as in a browser). Then the session is read back.`,
        rows: lostRows,
      },
      heap,
      profiles,
    });
    process.stdout.write(`\n${report}\n`);
    if (!args.quick && !args.only && args.skip.size === 0) {
      await writeFile(path.join(ROOT, 'bench', 'RESULTS.md'), `${report}\n`);
      log('wrote bench/RESULTS.md');
    }
    log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    load.close();
    if (!redis.unavailable) await redis.stop();
  }
}

/** The valgrind instruction counts, or a note row when valgrind is missing. */
async function instructionsPhase(args, settings, ctx, pick) {
  const why = instructionsUnavailable();
  if (why) {
    log(`instructions: skipped: ${why}`);
    return [{ variant: 'nest-express', route: 'counter', note: why }];
  }
  const plan = INSTRUCTION_VARIANTS.filter(
    (p) => pick([p.id]).length && (!args.routes || args.routes.includes(p.route)),
  );
  const s = {
    ...settings.instructions,
    repeats: args.repeats ?? settings.instructions.repeats,
    warmup: args.warmup ?? settings.instructions.warmup,
    requests: args.requests ?? settings.instructions.requests,
  };
  log(
    `instructions per request (callgrind, Node ${ctx.primary.major}, ${s.requests} requests after ${s.warmup}, ${s.repeats} run(s) each):`,
  );
  return runInstructions(plan, ctx, { ...s, log });
}

main().catch((error) => {
  log(error.stack ?? String(error));
  process.exitCode = 1;
});
