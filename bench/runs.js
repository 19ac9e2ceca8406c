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
  const config = { secret: ctx.secret, redisUrl: ctx.redis.url, sqliteFile: 'peer-sessions.sqlite' };
  const server = await startServer(variant.server, { ...config, ...variant.config }, options);
  if (server.unavailable) return { unavailable: describe(variant, server.unavailable) };
  return server;
}

function describe(variant, reason) {
  if (variant.kind === 'nest' && /SESSION_DRIVER_UNKNOWN|no session driver named/.test(reason)) {
    return `not available: nest-session has no '${variant.driver}' driver yet`;
  }
  return `not available: ${reason}`;
}

/**
 * For a session variant: makes a session through /counter twice and checks the second request saw
 * the first one's write. Resolves with the jar holding the session cookie(s), or throws saying why.
 */
export async function openSession(server, variant) {
  const jar = new CookieJar();
  const first = await get(server.port, '/counter', { jar });
  if (first.status !== 200) throw new Error(`GET /counter answered ${first.status}`);
  if (!hasSession(variant)) return jar;
  if (jar.header() === undefined) throw new Error('GET /counter set no cookie');
  const second = await get(server.port, '/counter', { jar });
  if (second.body?.counter !== 2) {
    throw new Error(`the session did not keep the counter (got ${JSON.stringify(second.body)})`);
  }
  return jar;
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
 * Interleaved rounds (A B C … A B C …): each round starts every variant's server afresh, in order,
 * and runs `body(server, variant, round)` on it. A variant that cannot start, or whose run throws,
 * gets a note in `notes` and sits out the later rounds.
 */
export async function interleave(variants, ctx, { rounds, log }, notes, body) {
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      if (notes.has(variant.id)) continue;
      const server = await launchVariant(variant, ctx);
      if (server.unavailable) {
        notes.set(variant.id, server.unavailable);
        log(`  ${variant.id}: ${server.unavailable}`);
        continue;
      }
      try {
        await body(server, variant, round);
      } catch (error) {
        notes.set(variant.id, `broken: ${error.message}`);
        log(`  ${variant.id}: broken: ${error.message}`);
      } finally {
        await server.stop();
      }
    }
  }
}
