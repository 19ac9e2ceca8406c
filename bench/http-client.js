// A small HTTP client for the checks around the load runs (sanity, seeding, lost updates): keep-alive
// sockets and one cookie jar that every response updates, as a browser's would.
import { Buffer } from 'node:buffer';
import http from 'node:http';

export class CookieJar {
  #values = new Map();

  /** The Cookie header to send, or undefined when the jar is empty. */
  header() {
    if (this.#values.size === 0) return undefined;
    return [...this.#values].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  update(setCookies = []) {
    for (const line of setCookies) {
      const pair = line.split(';')[0];
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = /;\s*max-age=0/i.test(line) || /expires=thu, 01 jan 1970/i.test(line);
      if (expired || value === '') this.#values.delete(name);
      else this.#values.set(name, value);
    }
  }

  /** The longest Set-Cookie value (name=value) this jar holds, in bytes. */
  longest() {
    let max = 0;
    for (const [name, value] of this.#values) max = Math.max(max, name.length + 1 + value.length);
    return max;
  }
}

/** GET a path on the loopback server; resolves with the status, the JSON body (if any) and the Set-Cookie lines. */
export function get(port, path, { jar, agent } = {}) {
  return new Promise((resolve, reject) => {
    const cookie = jar?.header();
    const req = http.get(
      { host: '127.0.0.1', port, path, agent, headers: cookie ? { cookie } : {} },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const setCookies = res.headers['set-cookie'] ?? [];
          jar?.update(setCookies);
          const text = Buffer.concat(chunks).toString('utf8');
          let body;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode, body, setCookies });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}
