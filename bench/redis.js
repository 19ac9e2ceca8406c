// The redis-server the redis variants share: started on a free loopback port with no persistence,
// emptied before each run, stopped at the end. Without redis-server those rows are skipped with a note.
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';

export const INSTALL_HINT =
  'redis-server is not installed: `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, then rerun';

/** Resolves with { url, version, flush(), stop() }, or { unavailable: reason }. */
export async function startRedis() {
  let version;
  try {
    version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return { unavailable: INSTALL_HINT };
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `redis://127.0.0.1:${port}`;
  if (!(await listening(port, () => child.exitCode === null))) {
    child.kill();
    return { unavailable: 'redis-server did not start (is the port taken?)' };
  }
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  return {
    url,
    version: /v=(\S+)/.exec(version)?.[1] ?? version,
    flush: () => client.flushAll(),
    async stop() {
      await client.quit().catch(() => undefined);
      child.kill();
      await exited;
    },
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits (5 s at most) until something accepts connections on the port. */
async function listening(port, alive) {
  for (let attempt = 0; attempt < 50 && alive(); attempt++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(100);
  }
  return false;
}
