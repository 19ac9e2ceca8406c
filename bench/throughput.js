// Throughput, interleaved: every round starts each variant's server afresh, in the same order
// (A B C … A B C …), warms every route up (thrown away), then measures every route. The primary
// Node runs every variant on all its routes; the other Nodes run the headline variants on the
// counter route, in the same rounds (each variant on every Node, one after the other).
import { entryOf, interleave, measureRoute, openSession, warmRoute } from './runs.js';
import { HEADLINE, hasSession, routesOf } from './variants.js';

/**
 * Resolves with { samples: [{ variant, round, route, ...measure }] (primary Node),
 * byNode: { major: samples }, notes: Map(key -> note) } where key is the id (primary Node) or id@major.
 */
export async function runThroughput(variants, ctx, { rounds, warmup, duration, connections, log }) {
  const byNode = Object.fromEntries(ctx.runtimes.map((r) => [r.major, []]));
  const notes = new Map();
  const entries = [];
  for (const variant of variants) {
    for (const runtime of ctx.runtimes) {
      if (runtime.major !== ctx.primary.major && !HEADLINE.includes(variant.id)) continue;
      entries.push(entryOf(variant, runtime, ctx.primary.major));
    }
  }
  await interleave(entries, ctx, { rounds, log }, notes, async (server, variant, round, entry) => {
    const primary = entry.runtime.major === ctx.primary.major;
    const jar = await openSession(server, variant);
    const routes = primary ? routesOf(variant) : routesOf(variant).filter((r) => r.name === 'counter');
    const plan = routes.map((route) => ({
      route,
      path: route.path,
      cookie: route.cookie && hasSession(variant) ? jar.header() : undefined,
      connections,
    }));
    for (const p of plan) await warmRoute(server, ctx.load, { ...p, warmup });
    const parts = [];
    for (const p of plan) {
      const m = await measureRoute(server, ctx.load, { ...p, duration });
      byNode[entry.runtime.major].push({ variant: variant.id, round, route: p.route.name, ...m });
      parts.push(`${p.route.name} ${Math.round(m.rps)}/s${m.non2xx + m.errors > 0 ? ' (errors!)' : ''}`);
    }
    log(`  round ${round} ${entry.key}: ${parts.join(', ')}`);
  });
  const primaryNotes = new Map([...notes].filter(([key]) => !key.includes('@')));
  return {
    samples: byNode[ctx.primary.major],
    byNode,
    notes: primaryNotes,
    allNotes: notes,
    primaryMajor: ctx.primary.major,
  };
}
