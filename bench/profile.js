// For a missed goal: the nest-session server (and the bare Nest app, for comparison) run under load
// with --cpu-prof. Only the samples taken during the measured load count (the profile's clock is the
// machine's monotonic clock, as process.hrtime here), so start-up and warm-up stay out. Reported per
// request: the top self-time functions in lib/, and where the rest of the CPU goes, by area.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { OUT } from './build.js';
import { hasSession } from './variants.js';
import { launchVariant, measureRoute, openSession, warmRoute } from './runs.js';

const LIB = `${path.sep}nest-session-bench${path.sep}lib${path.sep}`;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Resolves with { variant, route, rps, requests, busyUsPerReq, areas, lib, top } (see summarize),
 * or { variant, route, note } when the server could not run.
 */
export async function profileRun(variant, route, ctx, { warmup, duration, connections }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'nest-session-prof-'));
  try {
    const server = await launchVariant(variant, ctx, {
      execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'],
    });
    if (server.unavailable) return { variant: variant.id, route: route.name, note: server.unavailable };
    let m;
    const window = {};
    try {
      const jar = await openSession(server, variant);
      const load = {
        path: route.path,
        cookie: route.cookie && hasSession(variant) ? jar.header() : undefined,
        connections,
      };
      await warmRoute(server, ctx.load, { ...load, warmup });
      window.from = nowUs();
      m = await measureRoute(server, ctx.load, { ...load, duration });
      window.to = nowUs();
    } finally {
      await server.stop();
    }
    const file = (await readdir(dir)).find((name) => name.endsWith('.cpuprofile'));
    if (file === undefined) return { variant: variant.id, route: route.name, note: 'no profile written' };
    const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8'));
    // Requests that completed in the window: the measured ones (the window is a little wider).
    return { variant: variant.id, route: route.name, rps: m.rps, ...summarize(profile, window, m.requests) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * From the samples in the window: busy CPU µs per request; per area (lib/, a package, Node's own JS,
 * V8) µs per request and share; lib/ functions with self and total (callees included) µs per
 * request and share; the top self-time functions anywhere.
 */
export function summarize(profile, window, requests) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < window.from || t > window.to) return;
    self.set(id, (self.get(id) ?? 0) + delta);
  });

  const areas = new Map();
  const libFunctions = new Map();
  const everywhere = new Map();
  const add = (map, key, field, us, extra) => {
    const entry = map.get(key) ?? { ...extra, self: 0, total: 0 };
    entry[field] += us;
    map.set(key, entry);
  };
  // A node's subtree time; a function's total counts once per stack (recursion is not doubled).
  const walk = (node, onStack) => {
    const { functionName, url } = node.callFrame;
    const key = `${functionName}@${url}`;
    const inner = onStack.has(key) ? onStack : new Set([...onStack, key]);
    const own = self.get(node.id) ?? 0;
    const subtree = (node.children ?? []).reduce((sum, id) => sum + walk(byId.get(id), inner), own);
    const where = whereOf(node.callFrame);
    if (url.includes(LIB)) {
      const extra = { name: functionName || '(anonymous)', file: where };
      add(libFunctions, key, 'self', own, extra);
      if (!onStack.has(key)) add(libFunctions, key, 'total', subtree, extra);
    }
    add(areas, areaOf(node.callFrame), 'self', own, {});
    add(everywhere, `${functionName}@${where}`, 'self', own, { name: functionName || '(anonymous)', where });
    return subtree;
  };
  walk(byId.get(profile.nodes[0].id), new Set());

  const busy = [...areas].reduce((sum, [name, e]) => (name === '(idle)' ? sum : sum + e.self), 0);
  const n = Math.max(1, requests);
  const share = (us) => (100 * us) / Math.max(1, busy);
  return {
    requests,
    busyUsPerReq: busy / n,
    areas: [...areas]
      .filter(([name]) => name !== '(idle)')
      .map(([area, e]) => ({ area, usPerReq: e.self / n, pct: share(e.self) }))
      .sort((a, b) => b.usPerReq - a.usPerReq),
    lib: [...libFunctions.values()]
      .map((e) => ({
        name: e.name,
        file: e.file,
        selfUsPerReq: e.self / n,
        selfPct: share(e.self),
        totalPct: share(e.total),
      }))
      .sort((a, b) => b.selfPct - a.selfPct),
    top: [...everywhere.values()]
      .filter((e) => e.name !== '(idle)')
      .map((e) => ({ name: e.name, where: e.where, selfPct: share(e.self) }))
      .sort((a, b) => b.selfPct - a.selfPct),
  };
}

/** lib/<file>.ts for the library's own code, the node: module, or the area. */
function whereOf(frame) {
  const { url } = frame;
  if (url.includes(LIB)) return `lib/${url.slice(url.indexOf(LIB) + LIB.length).replace(/\.js$/, '.ts')}`;
  if (url.startsWith('node:')) return url;
  return areaOf(frame);
}

/** Which part of the process a frame belongs to: lib/, a package, Node's own JS, or V8. */
function areaOf({ functionName, url }) {
  if (url === '')
    return functionName.startsWith('(') ? functionName : '(native: syscalls, crypto, V8 builtins)';
  if (url.includes(LIB)) return 'nest-session lib/';
  if (url.includes(`${OUT}${path.sep}bench`)) return 'bench app';
  if (url.includes('async_hooks')) return 'node: async_hooks (AsyncLocalStorage)';
  if (url.startsWith('node:')) return 'node: other internals';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url.slice(url.lastIndexOf('node_modules/')));
  return match ? match[1] : '(other)';
}
