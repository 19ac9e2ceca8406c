// Lost updates under load: 50 connections write different keys of one session at once, sharing
// one cookie jar as a browser's tabs do; afterwards the session is read and the surviving keys counted.
import http from 'node:http';
import { CookieJar, get } from './http-client.js';
import { launchVariant } from './runs.js';

/** Resolves with [{ variant, written, survived, failed, note? }]. */
export async function runLostUpdates(variants, ctx, { connections, writesPerConnection, log }) {
  const rows = [];
  for (const variant of variants) {
    const server = await launchVariant(variant, ctx);
    if (server.unavailable) {
      rows.push({ variant: variant.id, note: server.unavailable });
      continue;
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    try {
      const jar = new CookieJar();
      const opened = await get(server.port, '/counter', { jar, agent });
      if (opened.status !== 200 || jar.header() === undefined) throw new Error('no session cookie');
      let failed = 0;
      const writer = async (c) => {
        for (let i = 0; i < writesPerConnection; i++) {
          const res = await get(server.port, `/write/w${c}_${i}`, { jar, agent });
          if (res.status !== 200) failed++;
        }
      };
      await Promise.all(Array.from({ length: connections }, (_, c) => writer(c)));
      const read = await get(server.port, '/keys', { jar, agent });
      const keys = Array.isArray(read.body?.keys) ? read.body.keys : [];
      const survived = keys.filter((key) => /^w\d+_\d+$/.test(key)).length;
      const written = connections * writesPerConnection;
      rows.push({ variant: variant.id, written, survived, failed });
      log(`  ${variant.id}: ${survived}/${written} writes survived${failed ? `, ${failed} failed` : ''}`);
    } catch (error) {
      rows.push({ variant: variant.id, note: `broken: ${error.message}` });
    } finally {
      agent.destroy();
      await server.stop();
    }
  }
  return rows;
}
