// Turns one run's figures into Markdown: printed by every run, written to bench/RESULTS.md by the full one.
import { SIZES } from './growth.js';
import {
  byId,
  DRIVERS,
  PATH_ROUTES,
  ROUTES,
  SIGNED_IN_DRIVERS,
  VARIANTS,
  bareNestOf,
  baselineOf,
  routesOf,
} from './variants.js';
import { costFinder, summarize } from './stats.js';
import { describeCalls } from './instructions.js';

const int = (n) => (n === undefined ? '-' : Math.round(n).toLocaleString('en-US'));
const one = (n) => (n === undefined ? '-' : n.toFixed(1));
const times = (r) => (r.value === undefined ? '-' : `${r.value.toFixed(2)}x`);
const table = (head, rows) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

const baseRouteOf = (route) => PATH_ROUTES[route]?.base ?? route;
const signedInt = (n) => (n === undefined ? '-' : `${n >= 0 ? '+' : ''}${int(n)}`);

export function renderReport(data) {
  return [
    header(data),
    goalsSection(data.goals),
    headlineSection(data),
    summarySection(data),
    throughputSection(data),
    pathsSection(data),
    ownSection(data.own),
    data.instructions.length ? renderInstructions(data.instructions, data.primary) : '',
    growthSection(data.growth),
    lostSection(data.lost),
    heapSection(data.heap),
    profileSection(data.profiles, data.quick),
  ]
    .filter(Boolean)
    .join('\n\n');
}

function header({ date, quick, machine, versions, settings, primary }) {
  return [
    `# nest-session benchmark${quick ? ' (quick mode: one short round, indicative only)' : ''}`,
    '',
    `Run on ${date} with \`npm run bench${quick ? ' -- --quick' : ''}\`.`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; ` +
      `load average ${machine.load.map((l) => l.toFixed(2)).join(' at the start, ')} at the end ` +
      '(anything else running on the machine adds noise: read the ± spread).',
    '',
    table(
      ['package', 'version'],
      Object.entries(versions).map(([name, version]) => [name, version]),
    ),
    '',
    '**Method.**',
    `Each server is a fresh process (NODE_ENV=production, its own temporary directory) on 127.0.0.1;`,
    `the load generator (autocannon, ${settings.connections} connections, no pipelining) is another process.`,
    `Variants run interleaved, A B C … A B C …, ${settings.rounds} round(s).`,
    `Each server first gets ${settings.warmup} s of load on every route (thrown away), then ${settings.duration} s measured per route.`,
    `The servers run on Node ${primary.version} (the goals and detailed tables); the headline table runs the`,
    'nest-session drivers, their Nest-hosted peers and bare Nest on every Node in the same rounds (counter route only).',
    'Peers run two ways: **Nest + peer** is the library inside a Nest app as NestJS users host it (`app.use(session(...))`',
    "with `@Session()`; on Fastify the plugin registered on Nest's Fastify instance), the comparison that counts;",
    'the bare Express/Fastify rows are the libraries on their own framework, for reference.',
    'Figures are medians over rounds; ± is half the range between rounds (max - min) / 2 as a share of the median.',
    'Ratios are taken round by round (same round, same route) and their median reported.',
    "Server CPU comes from the server's own process.cpuUsage() around the measured part; load-generator CPU from its own.",
    'Routes: **counter** reads and writes a counter through the session, the generator sending the cookie it got once;',
    '**new** creates a session per request (no cookie sent); **untouched** never touches the session (no cookie sent).',
    '**session µs/req** is the server CPU per request minus that of the same app without a session in the same round',
    '(bare Nest for nest-session and the Nest-hosted peers, bare Express or Fastify for the bare peers), median over rounds:',
    'what the session costs per request.',
    'On two cores the server, the load generator and redis-server share the CPU.',
  ].join('\n');
}

function goalsSection(goals) {
  return [
    '## Goals',
    '',
    table(
      ['goal', 'target', 'figure', 'status'],
      goals.map((g) => [g.text, g.target, g.figure, g.status === 'n/a' ? `n/a: ${g.note ?? ''}` : g.status]),
    ),
  ].join('\n');
}

/** The answer in one table: each driver's cost per request next to its Nest-hosted peer's, on the counter route. */
function summarySection({ throughput, costs }) {
  const stats = summarize(throughput.samples, (s) => s.route);
  const cell = (id) => {
    const s = stats.get(`${id}|counter`);
    if (!s) return throughput.notes.get(id) ?? '-';
    const c = costs(id, 'counter');
    return `${int(s.rps)} req/s, ${c.value === undefined ? '-' : `${signedInt(c.value)} µs`}, p99 ${one(s.p99)} ms`;
  };
  const rows = [];
  for (const adapter of ['express', 'fastify']) {
    for (const v of VARIANTS.filter((x) => x.kind === 'nest' && x.adapter === adapter && !x.path)) {
      rows.push([`${v.driver} (${adapter})`, cell(v.id), byId.get(v.peer).label, cell(v.peer)]);
    }
  }
  return [
    '## Summary: the counter route (read and write one key of a reused session)',
    '',
    'Each cell: req/s, the server CPU the session adds per request over bare Nest, p99. The file driver is set',
    "against the SQLite store (both keep sessions on one machine's disk; no file store is installed for the peers).",
    '',
    table(['nest-session driver', 'nest-session', 'Nest-hosted peer', 'peer figures'], rows),
  ].join('\n');
}

/** Node 20, 22 and 24 side by side: req/s and session CPU on the counter route, from the same rounds. */
function headlineSection({ throughput, runtimes }) {
  const perNode = runtimes.map((r) => {
    const samples = throughput.byNode?.[r.major] ?? [];
    // The primary Node's notes have no @; the others' carry their major.
    const own = new Map();
    for (const [key, note] of throughput.allNotes ?? throughput.notes) {
      const at = key.indexOf('@');
      if (at < 0 && r.major === throughput.primaryMajor) own.set(key, note);
      if (at >= 0 && Number(key.slice(at + 1)) === r.major) own.set(key.slice(0, at), note);
    }
    return {
      runtime: r,
      stats: summarize(samples, (s) => s.route),
      costs: costFinder(samples, own, baselineOf, baseRouteOf),
      notes: own,
    };
  });
  const ids = [];
  for (const adapter of ['express', 'fastify']) {
    ids.push(bareNestOf({ adapter }));
    for (const driver of DRIVERS) {
      const v = byId.get(`nest-${adapter}-${driver}`);
      ids.push(v.id, v.peer);
    }
  }
  const unique = ids.filter((id, i) => ids.indexOf(id) === i);
  const rows = unique.map((id) => {
    const v = byId.get(id);
    const cells = perNode.flatMap(({ stats, costs, notes }) => {
      const s = stats.get(`${id}|counter`);
      if (!s) return [notes.get(id) ? shortNote(notes.get(id)) : '-', ''];
      const c = v.kind === 'bare' ? { value: undefined } : costs(id, 'counter');
      return [int(s.rps), c.value === undefined ? '' : signedInt(c.value)];
    });
    const where = v.adapter === 'express' ? 'Express' : 'Fastify';
    return [v.kind === 'bare' ? v.label : `${v.label} (${where})`, ...cells];
  });
  return [
    '## Headline: the counter route on Node 20, 22 and 24 (same run, interleaved)',
    '',
    "req/s, and the session's server CPU per request over bare Nest on the same Node (µs). On Node 20",
    'AsyncLocalStorage runs on async hooks; from Node 24 on AsyncContextFrame, at about no cost per request.',
    '',
    table(['variant', ...perNode.flatMap(({ runtime }) => [`Node ${runtime.major} req/s`, `µs/req`])], rows),
  ].join('\n');
}

function shortNote(note) {
  return note.startsWith('skipped') ? 'skipped' : note.length > 40 ? `${note.slice(0, 40)}…` : note;
}

function throughputSection({ throughput, ratios, costs, primary }) {
  const stats = summarize(throughput.samples, (s) => s.route);
  const out = [`## Throughput (Node ${primary.version})`];
  for (const adapter of ['express', 'fastify']) {
    const bare = byId.get(bareNestOf({ adapter })).label;
    for (const route of ROUTES) {
      const variants = VARIANTS.filter(
        (v) =>
          (v.adapter === adapter || v.adapter === 'node') && routesOf(v).some((r) => r.name === route.name),
      );
      const rows = variants.map((v) => {
        const note = throughput.notes.get(v.id);
        const s = stats.get(`${v.id}|${route.name}`);
        if (s === undefined) return [v.label, note ?? 'not run', '', '', '', '', '', '', ''];
        const cost = baselineOf(v) ? costs(v.id, route.name).value : undefined;
        const vsBare =
          v.id === bareNestOf({ adapter }) ? '1.00x' : times(ratiosFor(ratios, v, route, adapter));
        const vsPeer = v.peer ? `${times(ratios(v.id, route.name, 'peer'))} ${byId.get(v.peer).label}` : '';
        return [
          v.label + (s.failures ? ` (${s.failures} failed requests)` : ''),
          int(s.rps) + (s.spread === undefined ? '' : ` ±${Math.round(50 * s.spread)}%`),
          one(s.p99),
          int(s.serverCpuPct),
          int(s.serverUsPerReq),
          cost === undefined ? '' : signedInt(cost),
          int(s.loadCpuPct),
          vsBare,
          vsPeer,
        ];
      });
      out.push(
        '',
        `### ${adapter === 'express' ? 'Express' : 'Fastify'}: ${route.title}`,
        '',
        table(
          [
            'variant',
            'req/s',
            'p99 ms',
            'server CPU %',
            'server CPU µs/req',
            'session µs/req',
            'load CPU %',
            `× ${bare}`,
            '× peer',
          ],
          rows,
        ),
      );
    }
  }
  return out.join('\n');
}

/** The ceiling is compared with the bare Nest app of the table it appears in. */
function ratiosFor(ratios, variant, route, adapter) {
  if (variant.adapter !== 'node') return ratios(variant.id, route.name, 'bare');
  return ratios.against(variant.id, route.name, bareNestOf({ adapter }));
}

/** The new paths: the req.session facade and pushFlash/pullFlash, next to the injected-Session counter. */
function pathsSection({ throughput, costs, ratios, primary }) {
  const stats = summarize(throughput.samples, (s) => s.route);
  const out = [
    `## New paths (Node ${primary.version})`,
    '',
    'Each nest-session path runs in a server of its own (memory driver). **vs injected** is the session CPU',
    'per request minus that of the counter route through the injected Session (same round): what the path',
    'adds. A path lib/ does not offer yet is skipped (the server checks it at start).',
  ];
  for (const route of Object.values(PATH_ROUTES)) {
    const rows = [];
    for (const adapter of ['express', 'fastify']) {
      const mine = VARIANTS.filter((v) => v.adapter === adapter && routesOf(v).includes(route));
      for (const v of mine) {
        const s = stats.get(`${v.id}|${route.name}`);
        const where = adapter === 'express' ? 'Express' : 'Fastify';
        if (!s) {
          rows.push([`${v.label} (${where})`, throughput.notes.get(v.id) ?? 'not run', '', '', '', '']);
          continue;
        }
        const c = costs(v.id, route.name);
        let vsInjected = '';
        if (v.kind === 'nest') {
          const injected = costs(`nest-${adapter}-memory`, 'counter');
          if (c.value !== undefined && injected.value !== undefined)
            vsInjected = signedInt(c.value - injected.value);
        }
        const vsPeer = v.kind === 'nest' && v.peer ? times(ratios(v.id, route.name, 'peer')) : '';
        rows.push([`${v.label} (${where})`, int(s.rps), one(s.p99), signedInt(c.value), vsInjected, vsPeer]);
      }
    }
    out.push(
      '',
      `### ${route.title}`,
      '',
      table(['variant', 'req/s', 'p99 ms', 'session µs/req', 'vs injected µs/req', 'req/s × peer'], rows),
    );
  }
  return out.join('\n');
}

/** lib/'s own CPU per request, from a --cpu-prof profile of each nest-session variant. */
function ownSection(own) {
  if (!own?.length) return '';
  return [
    "## lib/'s own CPU per request (profile)",
    '',
    'Each nest-session server profiled (`--cpu-prof`, 100 µs sampling) under load on its first route; a sample',
    'counts for lib/ when the nearest package code on its stack is lib/ or a package it brings (its',
    "dependencies; ioredis, TypeORM, better-sqlite3 for its drivers); Node's internals and native code (crypto,",
    "AsyncLocalStorage) count for the code that called them, except Node's HTTP and socket code (the response's",
    'own writing, which runs inside lib/ when it wraps writeHead/end). The profiler slows the process down, so',
    "**lib/ own µs/req** is lib/'s share of the profile times the server CPU per request measured without the",
    'profiler (throughput phase, same route); the figures under the profiler are given too.',
    '',
    table(
      [
        'variant',
        'route',
        'lib/ own µs/req',
        'lib/ share',
        'lib/ own µs/req, profiled',
        'busy µs/req, profiled',
        'req/s, profiled',
        'top lib/ frames (self µs/req, profiled)',
      ],
      own.map((p) => {
        const v = byId.get(p.variant);
        const label = `${v.label} (${v.adapter === 'express' ? 'Express' : 'Fastify'})`;
        if (p.note) return [label, p.route ?? '', p.note, '', '', '', '', ''];
        return [
          label,
          p.route,
          one(p.scaledUsPerReq),
          `${((100 * p.libOwnUsPerReq) / Math.max(1e-9, p.busyUsPerReq)).toFixed(1)}%`,
          one(p.libOwnUsPerReq),
          one(p.busyUsPerReq),
          int(p.rps),
          p.libOwnTop
            .slice(0, 4)
            .map((f) => `\`${f.name}\` ${one(f.usPerReq)}`)
            .join('; '),
        ];
      }),
    ),
  ].join('\n');
}

/** Instructions per request (callgrind): with the session, and over bare Nest. */
export function renderInstructions(rows, primary) {
  const k = (n) => (n === undefined ? '-' : `${(n / 1000).toFixed(1)} k`);
  const percent = (x) => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
  const runs = Math.max(0, ...rows.map((r) => r.runs.length));
  return [
    `## Instructions per request (valgrind callgrind, Node ${primary.version})`,
    '',
    'Each server under `valgrind --tool=callgrind` takes its warm-up (instrumentation off), then a fixed',
    'number of requests on 10 connections is counted. **instructions/request** is the JavaScript',
    "thread's count without the work of V8's garbage collector and compiler, which the call graph",
    'tells apart; that work, on every thread, is in the **GC** and **JIT** columns (it depends on when',
    'a collection or a compile job falls, so it moves between runs). **spread** is (max - min) / median',
    `over the runs (${runs} here); **2nd half** is how much the second half of the counted requests`,
    'differed from the first (median over runs): near 0 when the warm-up was long enough.',
    '**session** is the count minus that of bare Nest on the same adapter and route (counter for the',
    'new paths); on routes that send the session cookie, bare Nest gets a Cookie header of the same length.',
    '',
    table(
      [
        'variant',
        'route',
        'instructions/request',
        'spread',
        'session instructions/request',
        'GC',
        'JIT',
        '2nd half',
        'runs',
      ],
      rows.map((r) => {
        const v = byId.get(r.variant);
        const label = `${v.label} (${v.adapter === 'express' ? 'Express' : 'Fastify'})`;
        if (r.note) return [label, r.route, r.note, '', '', '', '', '', ''];
        const drift = [...r.runs.map((x) => x.drift)].sort((a, b) => a - b)[r.runs.length >> 1];
        return [
          label,
          r.route,
          int(r.perRequest),
          r.runs.length > 1 ? percent(r.spread) : '-',
          r.sessionPerRequest === undefined ? '' : signedInt(r.sessionPerRequest),
          k(r.gc),
          k(r.jit),
          `${drift >= 0 ? '+' : ''}${percent(drift)}`,
          r.runs.map((x) => int(x.perRequest)).join(', '),
        ];
      }),
    ),
    signedInSection(rows),
  ]
    .filter((part) => part !== undefined)
    .join('\n');
}

/** What signing in adds: counter-signed minus counter, per variant that ran both. */
function signedInSection(rows) {
  const pairs = rows
    .filter((r) => r.route === 'counter-signed')
    .map((signed) => ({
      signed,
      anonymous: rows.find((r) => r.variant === signed.variant && r.route === 'counter'),
    }))
    .filter(({ anonymous }) => anonymous !== undefined);
  if (pairs.length === 0) return undefined;
  const serverSide = (id) => SIGNED_IN_DRIVERS.some((driver) => id.endsWith(`-${driver}`));
  const calls = (r) => (r.storeCalls === undefined ? '-' : describeCalls(r.storeCalls));
  return [
    '',
    '### Signed in over anonymous (counter-signed minus counter)',
    '',
    'The counter route on a session signed in once before the warm-up (`session.signIn()`), its',
    'signed-in cookie sent on every request, against the same route on an anonymous session of the',
    'same app. Goal: at most +5,000 instructions per request on the server-side drivers. **store calls**',
    "per request are counted on a server of their own, outside valgrind (the cookie driver's",
    'revocation store as `revocation <driver>`).',
    '',
    table(
      [
        'variant',
        'counter',
        'counter-signed',
        'signed in over anonymous',
        'goal <= +5,000',
        'store calls/request, anonymous',
        'store calls/request, signed in',
      ],
      pairs.map(({ signed, anonymous }) => {
        const v = byId.get(signed.variant);
        const label = `${v.label} (${v.adapter === 'express' ? 'Express' : 'Fastify'})`;
        const delta =
          signed.perRequest === undefined || anonymous.perRequest === undefined
            ? undefined
            : signed.perRequest - anonymous.perRequest;
        const goal =
          !serverSide(signed.variant) || delta === undefined ? '' : delta <= 5000 ? 'met' : 'missed';
        return [
          label,
          anonymous.note ?? int(anonymous.perRequest),
          signed.note ?? int(signed.perRequest),
          signedInt(delta),
          goal,
          calls(anonymous),
          calls(signed),
        ];
      }),
    ),
  ].join('\n');
}

function growthSection(growth) {
  const stats = summarize(growth.samples, (s) => s.size);
  const ids = [...new Set([...growth.samples.map((s) => s.variant), ...growth.notes.keys()])]
    .map((k) => k.split('/')[0])
    .filter((id, i, all) => all.indexOf(id) === i);
  const rows = ids.map((id) => {
    const cells = SIZES.map((size) => {
      const s = stats.get(`${id}|${size.bytes}`);
      if (s) return `${int(s.rps)} req/s, ${int(s.serverUsPerReq)} µs, p99 ${one(s.p99)} ms`;
      return growth.notes.get(`${id}/${size.bytes}`) ?? growth.notes.get(id) ?? '-';
    });
    const small = stats.get(`${id}|${SIZES[0].bytes}`);
    const big = stats.get(`${id}|${SIZES[SIZES.length - 1].bytes}`);
    const delta = small && big ? big.serverUsPerReq - small.serverUsPerReq : undefined;
    const extra = delta === undefined ? '-' : `${delta >= 0 ? '+' : ''}${int(delta)} µs`;
    return [byId.get(id)?.label ?? id, ...cells, extra];
  });
  return [
    '## Growth: changing one key in a bigger session (Express, counter route)',
    '',
    'Each cell: req/s, server CPU per request, p99. Cookie sessions stop at 4 KB (browsers drop larger cookies).',
    '',
    table(['variant', ...SIZES.map((s) => s.label), 'CPU per request, 100 KB vs 100 B'], rows),
  ].join('\n');
}

function lostSection(lost) {
  return [
    '## Lost updates: concurrent writers on one session',
    '',
    lost.settings,
    '',
    table(
      ['variant', 'writes', 'survived', 'share'],
      lost.rows.map((r) =>
        r.note
          ? [
              byId.get(r.variant).label + (byId.get(r.variant).adapter === 'fastify' ? ' (Fastify)' : ''),
              '-',
              '-',
              r.note,
            ]
          : [
              byId.get(r.variant).label + (byId.get(r.variant).adapter === 'fastify' ? ' (Fastify)' : ''),
              int(r.written),
              int(r.survived) + (r.failed ? ` (${r.failed} requests failed)` : ''),
              `${((100 * r.survived) / r.written).toFixed(1)}%`,
            ],
      ),
    ),
  ].join('\n');
}

function heapSection(heap) {
  const label = {
    'nest-memory': 'nest-session memory driver',
    'express-session': 'express-session MemoryStore',
  };
  return [
    '## Heap per session',
    '',
    'Small sessions ({ counter: 1 }) put straight into each store in a process of its own (`--expose-gc`);',
    'heapUsed after full GCs, minus heapUsed before the store was made (its code already loaded), divided by the count (ids included).',
    '',
    table(
      ['store', 'sessions', 'heap B/session', 'external B/session', 'session id'],
      heap.map((h) =>
        h.error
          ? [label[h.store], '-', h.error, '', '']
          : [
              label[h.store],
              int(h.count),
              int(h.heapPerSession),
              int(h.externalPerSession),
              `${h.idChars} chars`,
            ],
      ),
    ),
  ].join('\n');
}

function profileSection(profiles, quick) {
  const out = [
    '## Profiles of the missed goals',
    '',
    'The nest-session server under `node --cpu-prof` (250 µs sampling), and the bare Nest app on the same route;',
    'only samples taken during the measured load count. CPU per request by area, then lib/ by function',
    '(self: in the function itself; total: with what it calls), then the top self time in the whole process.',
    "`writev` is the kernel's loopback send, one call per response in every variant; its cost per request",
    'rises as throughput falls (fewer responses per wake-up of the client), so read it as an effect, not a cause.',
  ];
  if (quick) return [...out, '', 'Not profiled in quick mode.'].join('\n');
  const sessions = profiles.filter((p) => byId.get(p.variant).kind === 'nest');
  if (sessions.length === 0) return [...out, '', 'No throughput goal missed: nothing profiled.'].join('\n');
  for (const p of sessions) {
    const v = byId.get(p.variant);
    out.push('', `### ${v.label} on ${v.adapter === 'express' ? 'Express' : 'Fastify'}, ${p.route}`, '');
    if (p.note) {
      out.push(p.note);
      continue;
    }
    const bare = profiles.find((b) => b.variant === bareNestOf(v) && b.route === p.route && !b.note);
    const bareArea = (name) => bare?.areas.find((a) => a.area === name)?.usPerReq ?? 0;
    const names = [...new Set([...p.areas.map((a) => a.area), ...(bare?.areas ?? []).map((a) => a.area)])];
    const areaRows = names
      .map((name) => ({
        name,
        mine: p.areas.find((a) => a.area === name)?.usPerReq ?? 0,
        base: bareArea(name),
      }))
      .sort((a, b) => b.mine - b.base - (a.mine - a.base))
      .slice(0, 10)
      .map((r) => [r.name, one(r.mine), bare ? one(r.base) : '-', bare ? signed(r.mine - r.base) : '-']);
    out.push(
      `${int(p.rps)} req/s under the profiler, ${one(p.busyUsPerReq)} µs of CPU per request` +
        (bare ? ` (bare Nest: ${int(bare.rps)} req/s, ${one(bare.busyUsPerReq)} µs).` : '.'),
      '',
      table(
        ['area (largest difference first)', 'µs/req', 'bare Nest µs/req', 'difference'],
        [
          ...areaRows,
          [
            '**all**',
            one(p.busyUsPerReq),
            bare ? one(bare.busyUsPerReq) : '-',
            bare ? signed(p.busyUsPerReq - bare.busyUsPerReq) : '-',
          ],
        ],
      ),
      '',
      table(
        ['lib/ function', 'file', 'self µs/req', 'self %', 'total %'],
        p.lib
          .slice(0, 10)
          .map((f) => [`\`${f.name}\``, f.file, one(f.selfUsPerReq), one(f.selfPct), one(f.totalPct)]),
      ),
      '',
      table(
        ['top self time, whole process', 'where', 'self %'],
        p.top.slice(0, 10).map((f) => [`\`${f.name}\``, f.where, one(f.selfPct)]),
      ),
    );
  }
  return out.join('\n');
}

function signed(n) {
  return `${n >= 0 ? '+' : ''}${one(n)}`;
}
