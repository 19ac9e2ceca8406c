// The goals of issue 6, read from one run's figures. They are reported, never asserted.

const ratio = (id, text, variant, route, against, min) => ({
  id,
  text,
  kind: 'ratio',
  variant,
  route,
  against,
  min,
});

export const GOALS = [
  ratio(
    'express-bare',
    'counter, memory, Express vs bare Nest Express',
    'nest-express-memory',
    'counter',
    'bare',
    0.85,
  ),
  ratio(
    'express-peer',
    'counter, memory, Express vs express-session MemoryStore',
    'nest-express-memory',
    'counter',
    'peer',
    1.3,
  ),
  ratio(
    'fastify-bare',
    'counter, memory, Fastify vs bare Nest Fastify',
    'nest-fastify-memory',
    'counter',
    'bare',
    0.6,
  ),
  ratio(
    'fastify-peer',
    'counter, memory, Fastify vs @fastify/session',
    'nest-fastify-memory',
    'counter',
    'peer',
    1.5,
  ),
  ratio(
    'cookie-fastify',
    'counter, cookie driver, Fastify vs @fastify/secure-session',
    'nest-fastify-cookie',
    'counter',
    'peer',
    1.3,
  ),
  ratio(
    'cookie-express',
    'counter, cookie driver, Express vs cookie-session',
    'nest-express-cookie',
    'counter',
    'peer',
    1.3,
  ),
  ratio(
    'redis-express',
    'counter, redis, Express vs express-session + connect-redis',
    'nest-express-redis',
    'counter',
    'peer',
    1.3,
  ),
  ratio(
    'database-express',
    'counter, database (SQLite), Express vs express-session + SQLite store',
    'nest-express-database',
    'counter',
    'peer',
    1.5,
  ),
  ratio(
    'untouched-express',
    'untouched route, memory, Express vs bare Nest Express',
    'nest-express-memory',
    'untouched',
    'bare',
    0.95,
  ),
  ratio(
    'untouched-fastify',
    'untouched route, memory, Fastify vs bare Nest Fastify',
    'nest-fastify-memory',
    'untouched',
    'bare',
    0.95,
  ),
  { id: 'heap', text: 'memory driver heap per small session', kind: 'heap', max: 200 },
  {
    id: 'lost-memory',
    text: 'writes surviving 50 concurrent writers, memory',
    kind: 'lost',
    variant: 'nest-express-memory',
  },
  {
    id: 'lost-database',
    text: 'writes surviving 50 concurrent writers, database',
    kind: 'lost',
    variant: 'nest-express-database',
  },
];

/**
 * Each goal with { target, figure, status: 'met' | 'missed' | 'n/a', note? }.
 * `ratios(variant, route, against)` gives { value } or { note }.
 */
export function evaluateGoals({ ratios, heap, lost }) {
  return GOALS.map((goal) => {
    if (goal.kind === 'ratio') {
      const r = ratios(goal.variant, goal.route, goal.against);
      const target = `>= ${goal.min}x`;
      if (r.value === undefined) return { ...goal, target, figure: '-', status: 'n/a', note: r.note };
      return {
        ...goal,
        target,
        figure: `${r.value.toFixed(2)}x`,
        status: r.value >= goal.min ? 'met' : 'missed',
      };
    }
    if (goal.kind === 'heap') {
      const row = heap.find((h) => h.store === 'nest-memory');
      const target = `<= ${goal.max} B`;
      if (!row || row.error) return { ...goal, target, figure: '-', status: 'n/a', note: row?.error };
      const value = row.heapPerSession;
      return {
        ...goal,
        target,
        figure: `${Math.round(value)} B`,
        status: value <= goal.max ? 'met' : 'missed',
      };
    }
    const row = lost.find((l) => l.variant === goal.variant);
    if (!row || row.note) return { ...goal, target: '100%', figure: '-', status: 'n/a', note: row?.note };
    return {
      ...goal,
      target: '100%',
      figure: `${row.survived}/${row.written}`,
      status: row.survived === row.written ? 'met' : 'missed',
    };
  });
}
