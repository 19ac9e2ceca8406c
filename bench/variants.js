// Every server the bench runs, by id. `kind`: 'ceiling' | 'bare' | 'nest' (nest-session) | 'peer'.
// A nest-session variant names its `peer` (the library it is compared with on the same adapter);
// `needs: 'redis'` rows are skipped with a note when redis-server is missing.

const nest = (adapter, driver, peer) => ({
  id: `nest-${adapter}-${driver}`,
  label: `nest-session ${driver}`,
  adapter,
  kind: 'nest',
  driver,
  peer,
  server: 'nest',
  config: { adapter, driver },
  needs: driver === 'redis' ? 'redis' : undefined,
});

const bareNest = (adapter, name) => ({
  id: `nest-${adapter}`,
  label: `Nest on ${name} (bare)`,
  adapter,
  kind: 'bare',
  server: 'nest',
  config: { adapter },
});

const peer = (id, label, adapter, server, store) => ({
  id,
  label,
  adapter,
  kind: 'peer',
  server,
  config: store ? { store } : {},
  needs: store === 'redis' ? 'redis' : undefined,
});

export const VARIANTS = [
  { id: 'node-http', label: 'node:http (ceiling)', adapter: 'node', kind: 'ceiling', server: 'node-http' },

  { id: 'express', label: 'Express (bare)', adapter: 'express', kind: 'bare', server: 'express-bare' },
  bareNest('express', 'Express'),
  nest('express', 'memory', 'express-session-memory'),
  nest('express', 'cookie', 'cookie-session'),
  nest('express', 'database', 'express-session-sqlite'),
  nest('express', 'redis', 'express-session-redis'),
  peer('express-session-memory', 'express-session + MemoryStore', 'express', 'express-session', 'memory'),
  peer('express-session-redis', 'express-session + connect-redis', 'express', 'express-session', 'redis'),
  peer('express-session-sqlite', 'express-session + SQLite store', 'express', 'express-session', 'sqlite'),
  peer('cookie-session', 'cookie-session', 'express', 'cookie-session'),

  { id: 'fastify', label: 'Fastify (bare)', adapter: 'fastify', kind: 'bare', server: 'fastify-bare' },
  bareNest('fastify', 'Fastify'),
  nest('fastify', 'memory', 'fastify-session-memory'),
  nest('fastify', 'cookie', 'fastify-secure-session'),
  nest('fastify', 'database', 'fastify-session-sqlite'),
  nest('fastify', 'redis', 'fastify-session-redis'),
  peer(
    'fastify-session-memory',
    '@fastify/session (its MemoryStore)',
    'fastify',
    'fastify-session',
    'memory',
  ),
  peer('fastify-session-redis', '@fastify/session + connect-redis', 'fastify', 'fastify-session', 'redis'),
  peer('fastify-session-sqlite', '@fastify/session + SQLite store', 'fastify', 'fastify-session', 'sqlite'),
  peer('fastify-secure-session', '@fastify/secure-session', 'fastify', 'fastify-secure-session'),
];

export const byId = new Map(VARIANTS.map((v) => [v.id, v]));

/** The bare Nest app a variant's ratio is taken against (same adapter); the ceiling uses Express's. */
export function bareNestOf(variant) {
  return variant.adapter === 'fastify' ? 'nest-fastify' : 'nest-express';
}

/** The app without a session that a session variant adds its cost to: bare Nest, or the peer's bare framework. */
export function baselineOf(variant) {
  if (variant.kind === 'nest') return bareNestOf(variant);
  if (variant.kind === 'peer') return variant.adapter;
  return undefined;
}

/** Whether the variant keeps a session (so the counter must survive a second request). */
export function hasSession(variant) {
  return variant.kind === 'nest' || variant.kind === 'peer';
}

/** The routes measured in every variant; `cookie`: the generator sends the session cookie it got once. */
export const ROUTES = [
  { name: 'counter', path: '/counter', cookie: true, title: 'counter (session reused)' },
  { name: 'new', path: '/new', cookie: false, title: 'new session per request' },
  { name: 'untouched', path: '/untouched', cookie: false, title: 'untouched (no cookie)' },
];

/** Growth and lost updates run on these (Express, plus @fastify/session and friends for lost updates). */
export const GROWTH_VARIANTS = [
  'nest-express-memory',
  'nest-express-cookie',
  'nest-express-database',
  'nest-express-redis',
  'express-session-memory',
  'express-session-redis',
  'express-session-sqlite',
  'cookie-session',
];

export const LOST_UPDATE_VARIANTS = [
  'nest-express-memory',
  'nest-express-database',
  'nest-express-redis',
  'nest-express-cookie',
  'nest-fastify-memory',
  'express-session-memory',
  'express-session-sqlite',
  'express-session-redis',
  'cookie-session',
  'fastify-session-memory',
  'fastify-secure-session',
];
