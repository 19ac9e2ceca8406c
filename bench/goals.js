// The goals, read from one run's figures on the primary Node (24). Reported, never asserted.
import { DRIVERS, SIGNED_IN_DRIVERS, byId } from './variants.js';

const ADAPTERS = ['express', 'fastify'];
const title = (adapter) => (adapter === 'express' ? 'Express' : 'Fastify');

/** Session CPU per request vs the matching Nest-hosted peer's, for every driver on both adapters. */
const costGoals = ADAPTERS.flatMap((adapter) =>
  DRIVERS.map((driver) => ({
    id: `cost-${adapter}-${driver}`,
    text: `session CPU, ${driver}, ${title(adapter)} vs ${byId.get(`nest-${adapter}-${driver}`).peer ? byId.get(byId.get(`nest-${adapter}-${driver}`).peer).label : '-'}`,
    kind: 'cost-ratio',
    variant: `nest-${adapter}-${driver}`,
    route: 'counter',
    max: 0.5,
  })),
);

export const GOALS = [
  ...costGoals,
  {
    id: 'cookie-fastify-cost',
    text: 'cookie driver, Fastify: session CPU vs Nest + @fastify/secure-session',
    kind: 'cost-ratio',
    variant: 'nest-fastify-cookie',
    route: 'counter',
    max: 1.0,
  },
  {
    id: 'cookie-fastify-rps',
    text: 'cookie driver, Fastify: req/s vs Nest + @fastify/secure-session',
    kind: 'ratio',
    variant: 'nest-fastify-cookie',
    route: 'counter',
    against: 'peer',
    min: 1.0,
  },
  {
    id: 'fastify-bare',
    text: 'counter, memory, Fastify: req/s vs bare Nest',
    kind: 'ratio',
    variant: 'nest-fastify-memory',
    route: 'counter',
    against: 'bare',
    min: 0.75,
  },
  ...ADAPTERS.map((adapter) => ({
    id: `untouched-${adapter}`,
    text: `untouched route, memory, ${title(adapter)}: req/s vs bare Nest`,
    kind: 'ratio',
    variant: `nest-${adapter}-memory`,
    route: 'untouched',
    against: 'bare',
    min: 0.98,
  })),
  {
    id: 'own-memory',
    text: 'lib/ own CPU, memory, Fastify (profile)',
    kind: 'own',
    variant: 'nest-fastify-memory',
    max: 3,
  },
  {
    id: 'own-cookie',
    text: 'lib/ own CPU, cookie, Fastify (profile)',
    kind: 'own',
    variant: 'nest-fastify-cookie',
    max: 6,
  },
  ...ADAPTERS.map((adapter) => ({
    id: `facade-${adapter}`,
    text: `req.session property read + write, ${title(adapter)} (facade route minus the counter through the injected Session, both with a route parameter, same server)`,
    kind: 'facade',
    variant: `nest-${adapter}-facade`,
    max: 1,
  })),
  ...ADAPTERS.map((adapter) => ({
    id: `facade-injected-${adapter}`,
    text: `req.session facade costs injected-Session routes nothing measurable, ${title(adapter)}`,
    kind: 'facade-injected',
    variant: `nest-${adapter}-memory`,
  })),
  // Instruction counts over bare Nest's same route (the instructions phase, `--instructions`).
  ...['memory', 'cookie'].flatMap((driver) =>
    ADAPTERS.map((adapter) => ({
      id: `untouched-cookie-${adapter}-${driver}`,
      text: `untouched route with the session cookie, ${driver}, ${title(adapter)}: instructions over bare Nest`,
      kind: 'instructions',
      variant: `nest-${adapter}-${driver}`,
      route: 'untouched-cookie',
      max: 8000,
    })),
  ),
  {
    id: 'counter-fastify-memory-instructions',
    text: 'counter, memory, Fastify: instructions over bare Nest',
    kind: 'instructions',
    variant: 'nest-fastify-memory',
    route: 'counter',
    max: 30000,
  },
  {
    id: 'cookie-fastify-instructions',
    text: 'counter, cookie driver, Fastify: instructions over bare Nest vs @fastify/secure-session',
    kind: 'instructions-ratio',
    variant: 'nest-fastify-cookie',
    peer: 'nest-fastify-secure-session',
    route: 'counter',
    max: 1.0,
  },
  ...[
    ['database', 'sqlite', 'the SQLite store'],
    ['redis', 'redis', 'connect-redis'],
  ].flatMap(([driver, store, name]) =>
    ADAPTERS.map((adapter) => ({
      id: `${driver}-${adapter}-instructions`,
      text: `counter, ${driver}, ${title(adapter)}: instructions over bare Nest vs ${adapter === 'express' ? 'express-session' : '@fastify/session'} + ${name}`,
      kind: 'instructions-ratio',
      variant: `nest-${adapter}-${driver}`,
      peer: `nest-${adapter}-session-${store}`,
      route: 'counter',
      max: 0.5,
    })),
  ),
  ...SIGNED_IN_DRIVERS.flatMap((driver) =>
    ADAPTERS.map((adapter) => ({
      id: `signed-in-${adapter}-${driver}`,
      text: `signed-in request over an anonymous one, ${driver}, ${title(adapter)} (counter-signed minus counter, instructions)`,
      kind: 'signed-in',
      variant: `nest-${adapter}-${driver}`,
      max: 5000,
    })),
  ),
  { id: 'heap', text: 'memory driver heap per small session', kind: 'heap', max: 200 },
  ...['memory', 'file', 'database', 'redis'].flatMap((driver) =>
    ADAPTERS.map((adapter) => ({
      id: `lost-${adapter}-${driver}`,
      text: `writes surviving 50 concurrent writers, ${driver}, ${title(adapter)}`,
      kind: 'lost',
      variant: `nest-${adapter}-${driver}`,
    })),
  ),
];

const na = (goal, target, note) => ({ ...goal, target, figure: '-', status: 'n/a', note });
const us = (n) => `${n.toFixed(1)} µs`;

/**
 * Each goal with { target, figure, status: 'met' | 'missed' | 'n/a', note? }.
 * ratios(variant, route, against) and costs(variant, route) give { value } or { note };
 * own: [{ variant, libOwnUsPerReq } | { variant, note }]; instructions: rows of the instructions phase.
 */
export function evaluateGoals({ ratios, costs, own = [], heap, lost, instructions = [] }) {
  return GOALS.map((goal) => {
    if (goal.kind === 'ratio') {
      const r = ratios(goal.variant, goal.route, goal.against);
      const target = `>= ${goal.min}x`;
      if (r.value === undefined) return na(goal, target, r.note);
      return {
        ...goal,
        target,
        figure: `${r.value.toFixed(2)}x`,
        status: r.value >= goal.min ? 'met' : 'missed',
      };
    }
    if (goal.kind === 'cost-ratio') {
      const target = `<= ${goal.max}x`;
      const peerId = byId.get(goal.variant).peer;
      const mine = costs(goal.variant, goal.route);
      const theirs = costs(peerId, goal.route);
      if (mine.value === undefined) return na(goal, target, mine.note);
      if (theirs.value === undefined) return na(goal, target, theirs.note);
      if (theirs.value <= 0)
        return na(goal, target, `the peer's cost is not above noise (${us(theirs.value)})`);
      const value = Math.max(0, mine.value) / theirs.value;
      return {
        ...goal,
        target,
        figure: `${value.toFixed(2)}x (${us(mine.value)} vs ${us(theirs.value)})`,
        status: value <= goal.max ? 'met' : 'missed',
      };
    }
    if (goal.kind === 'own') {
      const target = `<= ${goal.max} µs`;
      const row = own.find((o) => o.variant === goal.variant);
      if (!row || row.note) return na(goal, target, row?.note ?? 'not profiled');
      // The profile's share for lib/ times the CPU per request without the profiler, when measured.
      const value = row.scaledUsPerReq ?? row.libOwnUsPerReq;
      const raw = row.scaledUsPerReq === undefined ? '' : ` (${us(row.libOwnUsPerReq)} under the profiler)`;
      return { ...goal, target, figure: us(value) + raw, status: value <= goal.max ? 'met' : 'missed' };
    }
    if (goal.kind === 'facade') {
      const target = `<= ${goal.max} µs`;
      const facade = costs(goal.variant, 'facade');
      const injected = costs(goal.variant, 'counter-req');
      if (facade.value === undefined) return na(goal, target, facade.note);
      if (injected.value === undefined) return na(goal, target, injected.note);
      const counted = instructionDelta(instructions, goal.variant, 'facade', goal.variant, 'counter-req');
      const value = facade.value - injected.value;
      return {
        ...goal,
        target,
        figure: us(value) + (counted === undefined ? '' : `; ${counted}`),
        status: value <= goal.max ? 'met' : 'missed',
      };
    }
    if (goal.kind === 'facade-injected') {
      // Needs the same route with and without the facade: instruction counts of two lib/ commits.
      const row = instructions.find((r) => r.variant === goal.variant && r.route === 'counter' && !r.note);
      const note =
        'compare instructions/request of this counter route (`--instructions`) before and after the facade is merged';
      return {
        ...goal,
        target: 'no change',
        figure: row ? `${Math.round(row.perRequest)} instr/req` : '-',
        status: 'n/a',
        note,
      };
    }
    if (goal.kind === 'instructions' || goal.kind === 'instructions-ratio') {
      const over = (variant) => overBare(instructions, variant, goal.route);
      const mine = over(goal.variant);
      const theirs = goal.peer === undefined ? undefined : over(goal.peer);
      const counted = (n) => `+${Math.round(n).toLocaleString('en-US')}`;
      if (goal.kind === 'instructions') {
        const target = `<= ${counted(goal.max)}`;
        if (mine === undefined) return na(goal, target, 'not counted in this run (--instructions)');
        return { ...goal, target, figure: counted(mine), status: mine <= goal.max ? 'met' : 'missed' };
      }
      const target = `<= ${goal.max}x`;
      if (mine === undefined || theirs === undefined || theirs <= 0)
        return na(goal, target, 'not counted in this run (--instructions)');
      const value = mine / theirs;
      return {
        ...goal,
        target,
        figure: `${value.toFixed(2)}x (${counted(mine)} vs ${counted(theirs)})`,
        status: value <= goal.max ? 'met' : 'missed',
      };
    }
    if (goal.kind === 'signed-in') {
      const target = `<= +${goal.max.toLocaleString('en-US')} instructions/request`;
      const args = [instructions, goal.variant, 'counter-signed', goal.variant, 'counter'];
      const delta = instructionDifference(...args);
      if (delta === undefined) return na(goal, target, 'counter and counter-signed not both counted');
      const figure = instructionDelta(...args);
      return { ...goal, target, figure, status: delta <= goal.max ? 'met' : 'missed' };
    }
    if (goal.kind === 'heap') {
      const row = heap.find((h) => h.store === 'nest-memory');
      const target = `<= ${goal.max} B`;
      if (!row || row.error) return na(goal, target, row?.error);
      const value = row.heapPerSession;
      return {
        ...goal,
        target,
        figure: `${Math.round(value)} B`,
        status: value <= goal.max ? 'met' : 'missed',
      };
    }
    const row = lost.find((l) => l.variant === goal.variant);
    if (!row || row.note) return na(goal, '100%', row?.note);
    return {
      ...goal,
      target: '100%',
      figure: `${row.survived}/${row.written}`,
      status: row.survived === row.written ? 'met' : 'missed',
    };
  });
}

/** One row's instructions/request minus another's, when both were counted. */
function instructionDifference(rows, variant, route, reference, referenceRoute) {
  const counted = (id, name) =>
    rows.find((r) => r.variant === id && r.route === name && r.perRequest !== undefined);
  const a = counted(variant, route);
  const b = counted(reference, referenceRoute);
  return a && b ? a.perRequest - b.perRequest : undefined;
}

function instructionDelta(rows, variant, route, reference, referenceRoute) {
  const delta = instructionDifference(rows, variant, route, reference, referenceRoute);
  if (delta === undefined) return undefined;
  return `${delta >= 0 ? '+' : ''}${Math.round(delta).toLocaleString('en-US')} instructions/request`;
}

/** A variant's instructions per request over bare Nest's (same adapter) on the same route. */
function overBare(rows, variant, route) {
  const adapter = byId.get(variant)?.adapter;
  const a = rows.find((r) => r.variant === variant && r.route === route && !r.note);
  const b = rows.find((r) => r.variant === `nest-${adapter}` && r.route === route && !r.note);
  return a && b ? a.perRequest - b.perRequest : undefined;
}
