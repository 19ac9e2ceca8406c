// Growth: what changing one key costs when the session already holds 100 B, 10 KB or 100 KB.
// Each size gets its own session (seeded with a blob); every one is warmed up on the counter route,
// then each is measured there.
import { CookieJar, get } from './http-client.js';
import { interleave, measureRoute, warmRoute } from './runs.js';

export const SIZES = [
  { bytes: 100, label: '100 B' },
  { bytes: 10_000, label: '10 KB' },
  { bytes: 100_000, label: '100 KB' },
];

/** Browsers keep a cookie (name=value) only up to 4096 bytes. */
const COOKIE_LIMIT = 4096;

/** Resolves with { samples: [{ variant, round, size, ...measure }], notes: Map(`${id}/${bytes}` | id -> note) }. */
export async function runGrowth(variants, ctx, { rounds, warmup, duration, connections, log }) {
  const samples = [];
  const notes = new Map();
  await interleave(variants, ctx, { rounds, log }, notes, async (server, variant, round) => {
    const sessions = await seedSessions(server, variant, notes);
    for (const { jar } of sessions) {
      await warmRoute(server, ctx.load, { path: '/counter', cookie: jar.header(), connections, warmup });
    }
    const parts = [];
    for (const { size, jar } of sessions) {
      const load = { path: '/counter', cookie: jar.header(), connections, duration };
      const m = await measureRoute(server, ctx.load, load);
      samples.push({ variant: variant.id, round, size: size.bytes, ...m });
      parts.push(`${size.label} ${Math.round(m.rps)}/s`);
    }
    log(`  round ${round} ${variant.id}: ${parts.join(', ') || notes.get(`${variant.id}/100`)}`);
  });
  return { samples, notes };
}

/** One session per size, seeded with a blob; a size the variant cannot keep gets a note instead. */
async function seedSessions(server, variant, notes) {
  const sessions = [];
  for (const size of SIZES) {
    const key = `${variant.id}/${size.bytes}`;
    if (notes.has(key)) continue;
    const jar = new CookieJar();
    let note;
    try {
      const seeded = await get(server.port, `/seed/${size.bytes}`, { jar });
      if (seeded.status !== 200) note = `refused (${seeded.status})`;
      else if (jar.longest() > COOKIE_LIMIT) note = 'cookie > 4 KB';
      else if (jar.header() === undefined) note = 'no cookie';
    } catch (error) {
      note = `cookie > 4 KB (${error.message})`;
    }
    if (note) notes.set(key, note);
    else sessions.push({ size, jar });
  }
  return sessions;
}
