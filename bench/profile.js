// For a missed goal: the nest-session server (and the bare Nest app, for comparison) run under load
// with --cpu-prof. Only the samples taken during the measured load count (the profile's clock is the
// machine's monotonic clock, as process.hrtime here), so start-up and warm-up stay out. Reported per
// request: the top self-time functions in lib/, and where the rest of the CPU goes, by area.
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { ROOT } from './build.js';
import { hasSession } from './variants.js';
import { launchVariant, measureRoute, openSession, warmRoute } from './runs.js';

// The compiled copies (build.js): <cache>/build/ and <cache>/node-*/app/build/.
const LIB_RE = /\/nest-session-bench\/(?:node-[^/]+\/app\/)?build\/lib\//;
const APP_RE = /\/nest-session-bench\/(?:node-[^/]+\/app\/)?build\/bench\//;
const isLib = (url) => LIB_RE.test(url);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * The packages lib/ calls that count as its own cost: its dependencies, and the optional peers its
 * drivers drive (ioredis, TypeORM, better-sqlite3).
 */
const LIB_PACKAGES = new Set([
  ...Object.keys(JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')).dependencies ?? {}),
  'ioredis',
  'typeorm',
  'better-sqlite3',
]);

/**
 * Resolves with { variant, route, rps, requests, busyUsPerReq, areas, lib, top } (see summarize),
 * or { variant, route, note } when the server could not run.
 */
export async function profileRun(variant, route, ctx, { warmup, duration, connections, interval = 250 }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'nest-session-prof-'));
  try {
    const server = await launchVariant(variant, ctx, {
      execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`],
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
    if (isLib(url)) {
      const extra = { name: functionName || '(anonymous)', file: where };
      add(libFunctions, key, 'self', own, extra);
      if (!onStack.has(key)) add(libFunctions, key, 'total', subtree, extra);
    }
    add(areas, areaOf(node.callFrame), 'self', own, {});
    add(everywhere, `${functionName}@${where}`, 'self', own, { name: functionName || '(anonymous)', where });
    return subtree;
  };
  walk(byId.get(profile.nodes[0].id), new Set());

  // lib/'s own CPU: each sample goes to the nearest frame on its stack that is code of a package or
  // of lib/ (Node's internals and native code, crypto and AsyncLocalStorage included, count for the
  // JS that called them, except the response's own writing: TRANSPORT); lib/ and LIB_PACKAGES are
  // the library's.
  let own = 0;
  const ownTop = new Map();
  const ownWalk = (node, owner) => {
    const { url, functionName } = node.callFrame;
    let here = owner;
    if (url !== '' && !url.startsWith('node:')) here = ownerOf(url);
    else if (TRANSPORT.test(url)) here = 'other';
    if (here === 'lib') {
      own += self.get(node.id) ?? 0;
      const key = `${functionName || '(anonymous)'} ${whereOf(node.callFrame)}`;
      ownTop.set(key, (ownTop.get(key) ?? 0) + (self.get(node.id) ?? 0));
    }
    for (const id of node.children ?? []) ownWalk(byId.get(id), here);
  };
  ownWalk(byId.get(profile.nodes[0].id), undefined);

  const busy = [...areas].reduce((sum, [name, e]) => (name === '(idle)' ? sum : sum + e.self), 0);
  const n = Math.max(1, requests);
  const share = (us) => (100 * us) / Math.max(1, busy);
  return {
    requests,
    busyUsPerReq: busy / n,
    libOwnUsPerReq: own / n,
    libOwnTop: [...ownTop]
      .map(([name, us]) => ({ name, usPerReq: us / n }))
      .sort((a, b) => b.usPerReq - a.usPerReq)
      .slice(0, 12),
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

/**
 * Node's HTTP and socket code: the response's own writing, which runs inside lib/ when lib/ wraps
 * writeHead/end to commit first. It is every variant's cost, not the session's.
 */
const TRANSPORT = /^node:(?:_http_|net$|stream$|internal\/(?:stream_base_commons|streams\/|http$|net$))/;

/** 'lib' for lib/ and the packages it brings, 'other' for any other code. */
function ownerOf(url) {
  if (isLib(url)) return 'lib';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url.slice(url.lastIndexOf('node_modules/')));
  return match && LIB_PACKAGES.has(match[1]) ? 'lib' : 'other';
}

/** lib/<file>.ts for the library's own code, the node: module, or the area. */
function whereOf(frame) {
  const { url } = frame;
  const lib = LIB_RE.exec(url);
  if (lib) return `lib/${url.slice(lib.index + lib[0].length).replace(/\.js$/, '.ts')}`;
  if (url.startsWith('node:')) return url;
  return areaOf(frame);
}

/** Which part of the process a frame belongs to: lib/, a package, Node's own JS, or V8. */
function areaOf({ functionName, url }) {
  if (url === '')
    return functionName.startsWith('(') ? functionName : '(native: syscalls, crypto, V8 builtins)';
  if (isLib(url)) return 'nest-session lib/';
  if (APP_RE.test(url)) return 'bench app';
  if (url.includes('async_hooks')) return 'node: async_hooks (AsyncLocalStorage)';
  if (url.startsWith('node:')) return 'node: other internals';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url.slice(url.lastIndexOf('node_modules/')));
  return match ? match[1] : '(other)';
}
