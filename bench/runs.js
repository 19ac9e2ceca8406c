// Runs: a fresh server process for a variant, the session cookie it hands out, warm-up load
// (thrown away) and measured load on one route (server CPU taken around the measured part only),
// and the interleaved rounds the throughput and growth phases share.
import { CookieJar, get } from './http-client.js';
import { startServer } from './server-process.js';
import { hasSession } from './variants.js';

/**
 * Starts the variant's server, or resolves with { unavailable: reason } (missing redis-server, a
 * nest-session driver that does not exist yet, a server that failed to start).
 */
export async function launchVariant(variant, ctx, options = {}) {
  if (variant.needs === 'redis') {
    if (ctx.redis.unavailable) return { unavailable: ctx.redis.unavailable };
    await ctx.redis.flush();
  }
  const runtime = options.runtime ?? ctx.primary;
  if (runtime?.unavailable) return { unavailable: runtime.unavailable };
  const config = { secret: ctx.secret, redisUrl: ctx.redis.url, sqliteFile: 'peer-sessions.sqlite' };
  const probe = variant.probe ? { probe: variant.probe } : {};
  const server = await startServer(
    variant.server,
    { ...config, ...variant.config, ...probe },
    { ...options, runtime },
  );
  if (server.unavailable) return { unavailable: describe(variant, server.unavailable) };
  return server;
}

function describe(variant, reason) {
  if (variant.kind === 'nest' && /SESSION_DRIVER_UNKNOWN|no session driver named/.test(reason)) {
    return `skipped: nest-session has no '${variant.driver}' driver yet`;
  }
  const missing = /SESSION_FEATURE_MISSING ([^:]+)/.exec(reason);
  if (missing) return `skipped: nest-session does not offer ${missing[1]} yet`;
  return `not available: ${reason}`;
}

/** One thing the rounds run: a variant on a Node (`key` names both; the primary Node's key is the id). */
export function entryOf(variant, runtime, primary) {
  const key = runtime.major === primary ? variant.id : `${variant.id}@${runtime.major}`;
  return { variant, runtime, key };
}

/**
 * For a session variant: makes a session through /counter twice and checks the second request saw
 * the first one's write; with `signIn` (a path), signs it in afterwards (see signInto). Resolves
 * with the jar holding the session cookie(s), or throws saying why.
 */
export async function openSession(server, variant, { signIn } = {}) {
  const route = variant.routes?.[0] ?? { path: '/counter', name: 'counter' };
  // The flash route pushes and pulls in one request, leaving nothing to keep: its session is made
  // through /counter (every app has it), as an app's flash goes into a session that already exists.
  const opener = route.name === 'flash' ? '/counter' : route.path;
  const jar = new CookieJar();
  const first = await get(server.port, opener, { jar });
  if (first.status !== 200) throw new Error(`GET ${opener} answered ${first.status}`);
  if (!hasSession(variant)) return jar;
  if (jar.header() === undefined) throw new Error(`GET ${opener} set no cookie`);
  const second = await get(server.port, route.path, { jar });
  const kept =
    route.name === 'flash'
      ? JSON.stringify(second.body?.messages) === '["saved"]'
      : (second.body?.counter ?? second.body?.views) === 2;
  if (!kept)
    throw new Error(`the session did not keep the ${route.name} (got ${JSON.stringify(second.body)})`);
  if (signIn !== undefined) await signInto(server, jar, signIn);
  return jar;
}

/**
 * Signs the jar's session in through the server's sign-in path, then checks that the cookie it got
 * back carries the session, data kept, as a signed-in one: a session the server does not count as
 * signed in (the cookie driver's record) would come back as a fresh one, its counter at 1.
 */
async function signInto(server, jar, path) {
  const before = jar.header();
  const answer = await get(server.port, path, { jar });
  if (answer.status !== 200 || typeof answer.body?.userId !== 'string')
    throw new Error(`GET ${path} answered ${answer.status} ${JSON.stringify(answer.body)}`);
  if (jar.header() === before) throw new Error(`GET ${path} set no new cookie`);
  const after = await get(server.port, '/counter', { jar });
  if (after.body?.counter !== 3)
    throw new Error(`the signed-in session did not keep the counter (got ${JSON.stringify(after.body)})`);
}

/** Load that is thrown away: lets the JIT settle on the route's code path. */
export async function warmRoute(server, load, { path, cookie, warmup, connections }) {
  if (warmup <= 0) return;
  const url = `http://127.0.0.1:${server.port}${path}`;
  await load.run({ url, duration: warmup, connections, headers: cookie ? { cookie } : {} });
}

/** The measured load, with the server's CPU time taken around it. */
export async function measureRoute(server, load, { path, cookie, duration, connections }) {
  const url = `http://127.0.0.1:${server.port}${path}`;
  const before = await server.cpuUs();
  const result = await load.run({ url, duration, connections, headers: cookie ? { cookie } : {} });
  const serverCpuUs = (await server.cpuUs()) - before;
  return { ...result, serverCpuUs };
}

/**
 * Interleaved rounds (A B C … A B C …): each round starts every entry's server afresh, in order,
 * and runs `body(server, variant, round, entry)` on it. Entries are variants (run on the primary
 * Node) or { variant, runtime, key } (see entryOf). One that cannot start, or whose run throws,
 * gets a note in `notes` under its key and sits out the later rounds.
 */
export async function interleave(entries, ctx, { rounds, log }, notes, body) {
  const list = entries.map((e) => (e.variant ? e : { variant: e, runtime: ctx.primary, key: e.id }));
  for (let round = 1; round <= rounds; round++) {
    for (const entry of list) {
      const { variant, key } = entry;
      if (notes.has(key)) continue;
      const server = await launchVariant(variant, ctx, { runtime: entry.runtime });
      if (server.unavailable) {
        notes.set(key, server.unavailable);
        log(`  ${key}: ${server.unavailable}`);
        continue;
      }
      try {
        await body(server, variant, round, entry);
      } catch (error) {
        notes.set(key, `broken: ${error.message}`);
        log(`  ${key}: broken: ${error.message}`);
      } finally {
        await server.stop();
      }
    }
  }
}
