// Throughput, interleaved: every round starts each variant's server afresh, in the same order
// (A B C … A B C …), warms every route up (thrown away), then measures every route.
import { ROUTES, hasSession } from './variants.js';
import { interleave, measureRoute, openSession, warmRoute } from './runs.js';

/** Resolves with { samples: [{ variant, round, route, ...measure }], notes: Map(variantId -> note) }. */
export async function runThroughput(variants, ctx, { rounds, warmup, duration, connections, log }) {
  const samples = [];
  const notes = new Map();
  await interleave(variants, ctx, { rounds, log }, notes, async (server, variant, round) => {
    const jar = await openSession(server, variant);
    const plan = ROUTES.map((route) => ({
      route,
      path: route.path,
      cookie: route.cookie && hasSession(variant) ? jar.header() : undefined,
      connections,
    }));
    for (const p of plan) await warmRoute(server, ctx.load, { ...p, warmup });
    const parts = [];
    for (const p of plan) {
      const m = await measureRoute(server, ctx.load, { ...p, duration });
      samples.push({ variant: variant.id, round, route: p.route.name, ...m });
      parts.push(`${p.route.name} ${Math.round(m.rps)}/s${m.non2xx + m.errors > 0 ? ' (errors!)' : ''}`);
    }
    log(`  round ${round} ${variant.id}: ${parts.join(', ')}`);
  });
  return { samples, notes };
}
