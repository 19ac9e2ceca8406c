// Medians and round-by-round ratios over the samples of the runs.
import { byId, bareNestOf } from './variants.js';

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** (max - min) / median, or undefined for a single value. */
export function spread(values) {
  if (values.length < 2) return undefined;
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/** Median figures per (variant, key) where key is a route name or a growth size. */
export function summarize(samples, keyOf) {
  const groups = new Map();
  for (const s of samples) {
    const k = `${s.variant}|${keyOf(s)}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const out = new Map();
  for (const [k, list] of groups) {
    out.set(k, {
      rounds: list.length,
      rps: median(list.map((s) => s.rps)),
      spread: spread(list.map((s) => s.rps)),
      p99: median(list.map((s) => s.p99)),
      serverCpuPct: median(list.map((s) => (100 * s.serverCpuUs) / (s.seconds * 1e6))),
      serverUsPerReq: median(list.map((s) => s.serverCpuUs / Math.max(1, s.requests))),
      loadCpuPct: median(list.map((s) => (100 * s.cpuUs) / (s.seconds * 1e6))),
      failures: list.reduce((n, s) => n + s.non2xx + s.errors, 0),
    });
  }
  return out;
}

/**
 * ratios(variantId, route, against): the median over rounds of rps(variant) / rps(reference) in
 * the same round, `against` being 'bare' (the bare Nest app on the same adapter) or 'peer';
 * ratios.against(variantId, route, referenceId) names the reference itself.
 * Each gives { value, rounds } or { note } saying what is missing.
 */
export function ratioFinder(samples, notes) {
  const rps = new Map(samples.map((s) => [`${s.variant}|${s.route}|${s.round}`, s.rps]));
  const against = (variantId, route, reference) => {
    for (const id of [variantId, reference]) {
      if (notes.has(id)) return { note: `${byId.get(id)?.label ?? id}: ${notes.get(id)}` };
    }
    const perRound = [];
    for (const s of samples) {
      if (s.variant !== variantId || s.route !== route) continue;
      const ref = rps.get(`${reference}|${route}|${s.round}`);
      if (ref) perRound.push(s.rps / ref);
    }
    const value = median(perRound);
    return value === undefined ? { note: 'not measured' } : { value, rounds: perRound.length };
  };
  const ratios = (variantId, route, kind) => {
    const variant = byId.get(variantId);
    const reference = kind === 'bare' ? bareNestOf(variant) : variant?.peer;
    return reference === undefined ? { note: 'no reference' } : against(variantId, route, reference);
  };
  ratios.against = against;
  return ratios;
}

/**
 * costs(variantId, route): the session's CPU per request, taken round by round: the variant's
 * server CPU µs/request minus that of the same app without a session (baselineOf) on the matching
 * route (PATH_ROUTES' `base`), in the same round; the median over rounds. { value, rounds } or { note }.
 */
export function costFinder(samples, notes, baselineOf, baseRouteOf) {
  const perReq = new Map(
    samples.map((s) => [`${s.variant}|${s.route}|${s.round}`, s.serverCpuUs / Math.max(1, s.requests)]),
  );
  return (variantId, route) => {
    const reference = baselineOf(byId.get(variantId));
    if (reference === undefined) return { note: 'no baseline' };
    for (const id of [variantId, reference]) {
      if (notes.has(id)) return { note: `${byId.get(id)?.label ?? id}: ${notes.get(id)}` };
    }
    const values = [];
    for (const s of samples) {
      if (s.variant !== variantId || s.route !== route) continue;
      const base = perReq.get(`${reference}|${baseRouteOf(route)}|${s.round}`);
      if (base !== undefined) values.push(s.serverCpuUs / Math.max(1, s.requests) - base);
    }
    const value = median(values);
    return value === undefined ? { note: 'not measured' } : { value, rounds: values.length };
  };
}
