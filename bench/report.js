// Turns one run's figures into Markdown: printed by every run, written to bench/RESULTS.md by the full one.
import { SIZES } from './growth.js';
import { byId, ROUTES, VARIANTS, bareNestOf, baselineOf } from './variants.js';
import { summarize } from './stats.js';

const int = (n) => (n === undefined ? '-' : Math.round(n).toLocaleString('en-US'));
const one = (n) => (n === undefined ? '-' : n.toFixed(1));
const times = (r) => (r.value === undefined ? '-' : `${r.value.toFixed(2)}x`);
const table = (head, rows) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

export function renderReport(data) {
  return [
    header(data),
    goalsSection(data.goals),
    summarySection(data.throughput),
    throughputSection(data),
    growthSection(data.growth),
    lostSection(data.lost),
    heapSection(data.heap),
    profileSection(data.profiles, data.quick),
  ].join('\n\n');
}

function header({ date, quick, machine, versions, settings }) {
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
    'Figures are medians over rounds; ± is half the range between rounds (max - min) / 2 as a share of the median.',
    'Ratios are taken round by round (same round, same route) and their median reported.',
    "Server CPU comes from the server's own process.cpuUsage() around the measured part; load-generator CPU from its own.",
    'Routes: **counter** reads and writes a counter through the session, the generator sending the cookie it got once;',
    '**new** creates a session per request (no cookie sent); **untouched** never touches the session (no cookie sent).',
    '**session µs/req** is the server CPU per request minus that of the same app without a session',
    '(bare Nest for nest-session, bare Express or Fastify for the peers): what the session costs per request.',
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

/** The answer in one table: each driver's cost per request next to its peer's, on the counter route. */
function summarySection(throughput) {
  const stats = summarize(throughput.samples, (s) => s.route);
  const cell = (id) => {
    const s = stats.get(`${id}|counter`);
    const base = stats.get(`${baselineOf(byId.get(id))}|counter`);
    if (!s) return throughput.notes.get(id) ?? '-';
    return `${int(s.rps)} req/s, ${base ? `+${int(s.serverUsPerReq - base.serverUsPerReq)} µs` : '-'}, p99 ${one(s.p99)} ms`;
  };
  const rows = [];
  for (const adapter of ['express', 'fastify']) {
    for (const v of VARIANTS.filter((x) => x.kind === 'nest' && x.adapter === adapter)) {
      rows.push([`${v.driver} (${adapter})`, cell(v.id), byId.get(v.peer).label, cell(v.peer)]);
    }
  }
  return [
    '## Summary: the counter route (read and write one key of a reused session)',
    '',
    'Each cell: req/s, the server CPU the session adds per request over the same app without one, p99.',
    '',
    table(['nest-session driver', 'nest-session', 'peer', 'peer figures'], rows),
  ].join('\n');
}

function throughputSection({ throughput, ratios }) {
  const stats = summarize(throughput.samples, (s) => s.route);
  const out = ['## Throughput'];
  for (const adapter of ['express', 'fastify']) {
    const variants = VARIANTS.filter((v) => v.adapter === adapter || v.adapter === 'node');
    const bare = byId.get(bareNestOf({ adapter })).label;
    for (const route of ROUTES) {
      const rows = variants.map((v) => {
        const note = throughput.notes.get(v.id);
        const s = stats.get(`${v.id}|${route.name}`);
        if (s === undefined) return [v.label, note ?? 'not run', '', '', '', '', '', '', ''];
        const base = stats.get(`${baselineOf(v)}|${route.name}`);
        const cost = base ? s.serverUsPerReq - base.serverUsPerReq : undefined;
        const vsBare =
          v.id === bareNestOf({ adapter }) ? '1.00x' : times(ratiosFor(ratios, v, route, adapter));
        const vsPeer = v.peer ? `${times(ratios(v.id, route.name, 'peer'))} ${byId.get(v.peer).label}` : '';
        return [
          v.label + (s.failures ? ` (${s.failures} failed requests)` : ''),
          int(s.rps) + (s.spread === undefined ? '' : ` ±${Math.round(50 * s.spread)}%`),
          one(s.p99),
          int(s.serverCpuPct),
          int(s.serverUsPerReq),
          cost === undefined ? '' : `${cost >= 0 ? '+' : ''}${int(cost)}`,
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
          ? [byId.get(r.variant).label, '-', '-', r.note]
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
