// Every server the bench runs, by id. `kind`: 'ceiling' | 'bare' | 'nest' (nest-session) | 'peer'.
// A nest-session variant names its `peer`: the library a NestJS team would use instead, hosted in a
// Nest app the way they host it (`app.use(session(...))` with `@Session()`, or the plugin registered
// on Nest's Fastify instance). The peers on bare Express/Fastify stay as a second reference.
// `needs: 'redis'` rows are skipped with a note when redis-server is missing; `probe` names a
// feature the server checks at start (a nest-session feature not merged yet skips the row).

/** The routes of the throughput tables; `cookie`: the generator sends the session cookie it got once. */
export const ROUTES = [
  { name: 'counter', path: '/counter', cookie: true, title: 'counter (session reused)' },
  { name: 'new', path: '/new', cookie: false, title: 'new session per request' },
  { name: 'untouched', path: '/untouched', cookie: false, title: 'untouched (no cookie)' },
];

/**
 * The untouched route as a browser requests it: the session cookie sent (apps without a session get
 * a Cookie header of the same length). Counted by the instruction counts only.
 */
export const UNTOUCHED_COOKIE = {
  name: 'untouched-cookie',
  path: '/untouched',
  cookie: true,
  title: 'untouched, session cookie sent',
};

/**
 * The counter on a session signed in beforehand (`session.signIn()` through `signIn`, once, before
 * the warm-up), its signed-in cookie sent on every request: what the users feature adds to a request
 * of a nest-session variant, against its counter route (`base`). Counted by the instruction counts only.
 */
export const COUNTER_SIGNED = {
  name: 'counter-signed',
  path: '/counter',
  cookie: true,
  signIn: '/sign-in',
  base: 'counter',
  title: 'counter on a signed-in session',
};

/**
 * The new paths, each its own variant: `base` is the route of the app without a session that the
 * session's CPU is taken over (bare Nest's counter: same kind of answer).
 */
export const PATH_ROUTES = {
  facade: {
    name: 'facade',
    path: '/facade',
    cookie: true,
    base: 'counter',
    title: '`req.session.views = (req.session.views ?? 0) + 1` through `@Session()`',
  },
  // The facade route's reference: the counter through the injected Session, with a route parameter
  // (`@Req()`) as the facade route has `@Session()`, so Nest's parameter handling is in both.
  'counter-req': {
    name: 'counter-req',
    path: '/counter-req',
    cookie: true,
    base: 'counter',
    title:
      "the counter through the injected `Session`, in a handler with `@Req()` (the facade route's reference)",
  },
  flash: {
    name: 'flash',
    path: '/flash',
    cookie: true,
    base: 'counter',
    title: 'push a flash message, pull the level (pushFlash/pullFlash; connect-flash for the peer)',
  },
  // The same two calls the other way round: each request reads the message the one before left and
  // leaves one for the next, as flash-then-redirect does, so the session changes every time.
  'flash-relay': {
    name: 'flash-relay',
    path: '/flash-relay',
    cookie: true,
    base: 'counter',
    title:
      "pull the level the request before pushed to, push one for the next (connect-flash's for the peer)",
  },
};

const nest = (adapter, driver, peer, extra = {}) => ({
  id: `nest-${adapter}-${driver}`,
  label: `nest-session ${driver}`,
  adapter,
  kind: 'nest',
  driver,
  peer,
  server: 'nest',
  config: { adapter, driver },
  needs: driver === 'redis' ? 'redis' : undefined,
  probe: driver === 'file' ? 'driver' : undefined,
  ...extra,
});

/** A nest-session variant for one of the new paths (the memory driver unless another is named). */
const nestPath = (adapter, path, peer, driver = 'memory') => ({
  id: driver === 'memory' ? `nest-${adapter}-${path}` : `nest-${adapter}-${driver}-${path}`,
  label: `nest-session ${driver}, ${path === 'facade' ? 'req.session facade' : 'pushFlash/pullFlash'}`,
  adapter,
  kind: 'nest',
  driver,
  peer,
  server: 'nest',
  config: { adapter, driver },
  probe: path,
  routes:
    path === 'facade'
      ? [PATH_ROUTES.facade, PATH_ROUTES['counter-req']]
      : [PATH_ROUTES[path], PATH_ROUTES['flash-relay']],
  path,
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

/** A peer hosted in a Nest app, as NestJS users host it. `library`: see servers/nest-peer.ts. */
const nestPeer = (id, label, adapter, library, store, extra = {}) => ({
  id,
  label: `Nest + ${label}`,
  adapter,
  kind: 'peer',
  nestHosted: true,
  server: 'nest-peer',
  config: { adapter, library, ...(store ? { store } : {}) },
  needs: store === 'redis' ? 'redis' : undefined,
  ...extra,
});

export const VARIANTS = [
  { id: 'node-http', label: 'node:http (ceiling)', adapter: 'node', kind: 'ceiling', server: 'node-http' },

  { id: 'express', label: 'Express (bare)', adapter: 'express', kind: 'bare', server: 'express-bare' },
  bareNest('express', 'Express'),
  nest('express', 'memory', 'nest-express-session-memory'),
  nest('express', 'cookie', 'nest-cookie-session'),
  nest('express', 'file', 'nest-express-session-sqlite'),
  nest('express', 'database', 'nest-express-session-sqlite'),
  nest('express', 'redis', 'nest-express-session-redis'),
  nestPeer(
    'nest-express-session-memory',
    'express-session + MemoryStore',
    'express',
    'express-session',
    'memory',
    {
      routes: [...ROUTES, PATH_ROUTES.facade],
    },
  ),
  nestPeer(
    'nest-express-session-redis',
    'express-session + connect-redis',
    'express',
    'express-session',
    'redis',
  ),
  nestPeer(
    'nest-express-session-sqlite',
    'express-session + SQLite store',
    'express',
    'express-session',
    'sqlite',
  ),
  nestPeer('nest-cookie-session', 'cookie-session', 'express', 'cookie-session'),
  nestPeer(
    'nest-express-session-flash',
    'express-session + connect-flash',
    'express',
    'express-session',
    'memory',
    {
      config: { adapter: 'express', library: 'express-session', store: 'memory', flash: true },
      routes: [PATH_ROUTES.flash, PATH_ROUTES['flash-relay']],
    },
  ),
  nestPeer(
    'nest-cookie-session-flash',
    'cookie-session + connect-flash',
    'express',
    'cookie-session',
    undefined,
    {
      config: { adapter: 'express', library: 'cookie-session', flash: true },
      routes: [PATH_ROUTES.flash, PATH_ROUTES['flash-relay']],
    },
  ),
  nestPath('express', 'facade', 'nest-express-session-memory'),
  nestPath('express', 'flash', 'nest-express-session-flash'),
  nestPath('express', 'flash', 'nest-cookie-session-flash', 'cookie'),
  peer('express-session-memory', 'express-session + MemoryStore', 'express', 'express-session', 'memory'),
  peer('express-session-redis', 'express-session + connect-redis', 'express', 'express-session', 'redis'),
  peer('express-session-sqlite', 'express-session + SQLite store', 'express', 'express-session', 'sqlite'),
  peer('cookie-session', 'cookie-session', 'express', 'cookie-session'),

  { id: 'fastify', label: 'Fastify (bare)', adapter: 'fastify', kind: 'bare', server: 'fastify-bare' },
  bareNest('fastify', 'Fastify'),
  nest('fastify', 'memory', 'nest-fastify-session-memory'),
  nest('fastify', 'cookie', 'nest-fastify-secure-session'),
  nest('fastify', 'file', 'nest-fastify-session-sqlite'),
  nest('fastify', 'database', 'nest-fastify-session-sqlite'),
  nest('fastify', 'redis', 'nest-fastify-session-redis'),
  nestPeer(
    'nest-fastify-session-memory',
    '@fastify/session (its MemoryStore)',
    'fastify',
    'fastify-session',
    'memory',
    {
      routes: [...ROUTES, PATH_ROUTES.facade],
    },
  ),
  nestPeer(
    'nest-fastify-session-redis',
    '@fastify/session + connect-redis',
    'fastify',
    'fastify-session',
    'redis',
  ),
  nestPeer(
    'nest-fastify-session-sqlite',
    '@fastify/session + SQLite store',
    'fastify',
    'fastify-session',
    'sqlite',
  ),
  nestPeer('nest-fastify-secure-session', '@fastify/secure-session', 'fastify', 'fastify-secure-session'),
  nestPath('fastify', 'facade', 'nest-fastify-session-memory'),
  nestPath('fastify', 'flash', undefined),
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

/**
 * The cookie driver with `users.revocationStore` (a memory store keeps the revocation records):
 * counted by the instruction counts only, where its signed-in requests read a record.
 */
export const USERS_VARIANTS = ['express', 'fastify'].map((adapter) =>
  nest(adapter, 'cookie', undefined, {
    id: `nest-${adapter}-cookie-users`,
    label: 'nest-session cookie + revocationStore memory',
    config: { adapter, driver: 'cookie', users: { revocationStore: 'memory' } },
    routes: [ROUTES[0]],
  }),
);

export const byId = new Map([...VARIANTS, ...USERS_VARIANTS].map((v) => [v.id, v]));

/** The routes a variant is measured on. */
export function routesOf(variant) {
  return variant.routes ?? ROUTES;
}

/**
 * One of a variant's routes by name, `untouched-cookie` included where it has `untouched`, and
 * `counter-signed` for the nest-session driver variants.
 */
export function routeOf(variant, name) {
  const routes = routesOf(variant);
  const extra = routes.some((r) => r.name === 'untouched') ? [UNTOUCHED_COOKIE] : [];
  if (variant.kind === 'nest' && !variant.path) extra.push(COUNTER_SIGNED);
  return [...routes, ...extra].find((r) => r.name === name);
}

/** The bare Nest app a variant's ratio is taken against (same adapter); the ceiling uses Express's. */
export function bareNestOf(variant) {
  return variant.adapter === 'fastify' ? 'nest-fastify' : 'nest-express';
}

/**
 * The app without a session that a session variant adds its cost to: bare Nest for nest-session and
 * the Nest-hosted peers, the bare framework for the bare peers.
 */
export function baselineOf(variant) {
  if (variant.kind === 'nest' || variant.nestHosted) return bareNestOf(variant);
  if (variant.kind === 'peer') return variant.adapter;
  return undefined;
}

/** Whether the variant keeps a session (so the counter must survive a second request). */
export function hasSession(variant) {
  return variant.kind === 'nest' || variant.kind === 'peer';
}

/** The nest-session driver variants, per adapter (the rows of the headline and summary tables). */
export const DRIVERS = ['memory', 'cookie', 'file', 'database', 'redis'];

/**
 * What runs on Node 20 and 22 too (counter route only): bare Nest, every nest-session driver and its
 * Nest-hosted peer, on both adapters. Node 24 runs everything.
 */
export const HEADLINE = ['express', 'fastify']
  .flatMap((adapter) => [
    bareNestOf({ adapter }),
    ...DRIVERS.flatMap((driver) => [`nest-${adapter}-${driver}`, byId.get(`nest-${adapter}-${driver}`).peer]),
  ])
  .filter((id, i, all) => all.indexOf(id) === i);

/** Growth and lost updates run on these (Express, plus @fastify/session and friends for lost updates). */
export const GROWTH_VARIANTS = [
  'nest-express-memory',
  'nest-express-cookie',
  'nest-express-file',
  'nest-express-database',
  'nest-express-redis',
  'nest-express-session-memory',
  'nest-express-session-redis',
  'nest-express-session-sqlite',
  'nest-cookie-session',
];

/** Every server-side driver (the goal: 100% of the writes survive), then the peers. */
export const LOST_UPDATE_VARIANTS = [
  'nest-express-memory',
  'nest-express-file',
  'nest-express-database',
  'nest-express-redis',
  'nest-express-cookie',
  'nest-fastify-memory',
  'nest-fastify-file',
  'nest-fastify-database',
  'nest-fastify-redis',
  'nest-express-session-memory',
  'nest-express-session-sqlite',
  'nest-express-session-redis',
  'nest-cookie-session',
  'nest-fastify-session-memory',
  'nest-fastify-secure-session',
];

/** The server-side drivers a signed-in request should cost at most 5 000 instructions more on. */
export const SIGNED_IN_DRIVERS = ['memory', 'database', 'redis'];

/** The instruction counts (valgrind): a few variants, both adapters. */
export const INSTRUCTION_VARIANTS = [
  { id: 'nest-express', route: 'counter' },
  { id: 'nest-express', route: 'untouched' },
  { id: 'nest-express', route: 'untouched-cookie' },
  { id: 'nest-express-memory', route: 'counter' },
  { id: 'nest-express-memory', route: 'untouched' },
  { id: 'nest-express-memory', route: 'untouched-cookie' },
  { id: 'nest-express-session-memory', route: 'counter' },
  { id: 'nest-express-facade', route: 'facade' },
  { id: 'nest-express-facade', route: 'counter-req' },
  { id: 'nest-fastify', route: 'counter' },
  { id: 'nest-fastify', route: 'untouched' },
  { id: 'nest-fastify', route: 'untouched-cookie' },
  { id: 'nest-fastify-memory', route: 'counter' },
  { id: 'nest-fastify-memory', route: 'untouched' },
  { id: 'nest-fastify-memory', route: 'untouched-cookie' },
  { id: 'nest-fastify-session-memory', route: 'counter' },
  { id: 'nest-fastify-facade', route: 'facade' },
  { id: 'nest-fastify-facade', route: 'counter-req' },
  { id: 'nest-express-cookie', route: 'untouched-cookie' },
  { id: 'nest-fastify-cookie', route: 'counter' },
  { id: 'nest-fastify-cookie', route: 'untouched-cookie' },
  { id: 'nest-fastify-secure-session', route: 'counter' },
  { id: 'nest-express-cookie-flash', route: 'flash' },
  { id: 'nest-cookie-session-flash', route: 'flash' },
  { id: 'nest-express-cookie-flash', route: 'flash-relay' },
  { id: 'nest-cookie-session-flash', route: 'flash-relay' },
  // The server-side stores' peers, for the database and redis drivers' counter (their rows come next).
  { id: 'nest-express-session-sqlite', route: 'counter' },
  { id: 'nest-fastify-session-sqlite', route: 'counter' },
  // connect-redis (node-redis) settles into valgrind's instrumented pace only over thousands of requests
  // (a 2 000-request window moved 4-8% between runs, whatever the warm-up): instrumented requests
  // before the count, and a longer window (bench/README.md).
  { id: 'nest-express-session-redis', route: 'counter', settle: 4000, requests: 10_000 },
  { id: 'nest-fastify-session-redis', route: 'counter', settle: 4000, requests: 10_000 },
  // Signed in over anonymous: the counter, and the counter on a signed-in session, per driver.
  ...[...SIGNED_IN_DRIVERS, 'cookie-users'].flatMap((driver) =>
    ['express', 'fastify'].flatMap((adapter) => {
      const id = `nest-${adapter}-${driver}`;
      const anonymous = driver === 'memory' ? [] : [{ id, route: 'counter' }];
      return [...anonymous, { id, route: 'counter-signed' }];
    }),
  ),
];
