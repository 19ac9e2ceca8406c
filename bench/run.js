// `npm run bench` (about 40 min, writes bench/RESULTS.md) or `npm run bench -- --quick` (under
// 3 min, prints only). What does nest-session cost per request, and does it lose data under load?
// Options: --quick; --only=id,id (variants, see variants.js); --skip=throughput,growth,lost,heap,profile.
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
import { renderReport } from './report.js';
import { ratioFinder } from './stats.js';
import { runThroughput } from './throughput.js';
import { GROWTH_VARIANTS, LOST_UPDATE_VARIANTS, ROUTES, VARIANTS, bareNestOf, byId } from './variants.js';

const FULL = {
  throughput: { rounds: 3, warmup: 3, duration: 5, connections: 50 },
  growth: { rounds: 3, warmup: 1.5, duration: 3, connections: 50 },
  lost: { connections: 50, writesPerConnection: 20 },
  heapSessions: 100_000,
  profile: { warmup: 3, duration: 6, connections: 50 },
};
const QUICK = {
  throughput: { rounds: 1, warmup: 0.4, duration: 0.8, connections: 50 },
  growth: { rounds: 1, warmup: 0.3, duration: 0.5, connections: 50 },
  lost: { connections: 50, writesPerConnection: 4 },
  heapSessions: 100_000,
  profile: undefined,
};

const log = (line) => process.stderr.write(`${line}\n`);

function parseArgs(argv) {
  const value = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const list = (name) => value(name)?.split(',').filter(Boolean);
  const args = { quick: argv.includes('--quick'), only: list('only'), skip: new Set(list('skip') ?? []) };
  const unknown = (args.only ?? []).filter((id) => !byId.has(id));
  if (unknown.length) throw new Error(`unknown variant(s) ${unknown.join(', ')}; see bench/variants.js`);
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const settings = args.quick ? QUICK : FULL;
  const pick = (ids) => ids.filter((id) => !args.only || args.only.includes(id)).map((id) => byId.get(id));
  const started = Date.now();
  const loadBefore = os.loadavg()[0];

  log(`nest-session bench (${args.quick ? 'quick' : 'full'}): compiling lib/ and bench/servers/ ...`);
  log(`  ${await build()} files compiled`);
  const redis = await startRedis();
  log(
    redis.unavailable
      ? `  redis variants skipped: ${redis.unavailable}`
      : `  redis-server ${redis.version} at ${redis.url}`,
  );
  // Taken now: the versions (and lib/'s commit) the compiled copy was made from.
  const stack = versions(redis.version);
  const load = startLoadGenerator();
  const ctx = { secret: 'bench-secret-0123456789abcdef0123456789', redis, load };

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
        await measureHeap('nest-memory', settings.heapSessions),
        await measureHeap('express-session', settings.heapSessions),
      ];
      for (const h of heap) log(`  ${h.store}: ${h.error ?? `${Math.round(h.heapPerSession)} B/session`}`);
    }

    const ratios = ratioFinder(throughput.samples, throughput.notes);
    const goals = evaluateGoals({ ratios, heap, lost: lostRows });
    const profiles = [];
    if (settings.profile && !args.skip.has('profile')) {
      const done = new Set();
      const profile = async (variantId, routeName, why) => {
        if (done.has(`${variantId}|${routeName}`)) return;
        done.add(`${variantId}|${routeName}`);
        log(`profiling ${variantId} ${routeName}${why}`);
        const route = ROUTES.find((r) => r.name === routeName);
        profiles.push(await profileRun(byId.get(variantId), route, ctx, settings.profile));
      };
      for (const goal of goals.filter((g) => g.status === 'missed' && g.kind === 'ratio')) {
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
      goals,
      throughput,
      ratios,
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

main().catch((error) => {
  log(error.stack ?? String(error));
  process.exitCode = 1;
});
