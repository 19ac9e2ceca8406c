// Heap per session: N small sessions ({ counter: 1 }) put in nest-session's memory driver, or in
// express-session's MemoryStore, in a process of their own started with --expose-gc; the heap
// growth after full GCs, divided by N, on the Node of the primary runtime.
// Usage (run.js does it): node --expose-gc bench/heap.js <store> <N> <lib index.js> <dependency root>
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import process from 'node:process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { libPath } from './build.js';

const HERE = fileURLToPath(import.meta.url);
const SECRET = 'heap-bench-secret-heap-bench-secret';
const DAY = 24 * 60 * 60 * 1000;

/** Parent side: resolves with { store, count, heapPerSession, externalPerSession } or { store, error }. */
export function measureHeap(store, count, runtime) {
  const args = [
    '--expose-gc',
    HERE,
    store,
    String(count),
    libPath('index', runtime?.root),
    runtime?.root ?? '',
  ];
  return new Promise((resolve) => {
    execFile(runtime?.execPath ?? process.execPath, args, (error, stdout, stderr) => {
      if (error) resolve({ store, error: (stderr || String(error)).trim().split('\n').pop() });
      else resolve(JSON.parse(stdout));
    });
  });
}

/** nest-session's memory driver, through the public API: SessionManager.store('memory').apply(). */
async function nestStore(count, { SessionManager }) {
  const manager = new SessionManager({ driver: 'memory', secret: SECRET, memory: { max: count } });
  const store = manager.store('memory');
  const now = Date.now();
  const meta = { createdAt: now, lastActivity: now, expiresAt: now + 2 * 60 * 60 * 1000, create: true };
  const add = async () => {
    const changes = {
      clearData: true,
      clearFlash: true,
      set: { counter: 1 },
      deleted: [],
      flash: {},
      flashCleared: {},
    };
    await store.apply(randomBytes(32).toString('base64url'), changes, meta);
  };
  return { add, size: () => store.size, idChars: 43 };
}

/** express-session's MemoryStore with the session object express-session itself would save. */
async function expressSessionStore(_count, session) {
  const store = new session.MemoryStore();
  const add = async () => {
    const cookie = new session.Cookie({ maxAge: 14 * DAY, httpOnly: true, sameSite: 'lax' });
    await new Promise((resolve) =>
      store.set(randomBytes(24).toString('base64url'), { cookie, counter: 1 }, resolve),
    );
  };
  return {
    add,
    size: () => Object.keys(store.sessions).length,
    idChars: 32,
  };
}

function settle() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage();
}

async function main(store, count, libIndex, root) {
  // The library's code is loaded first: only the store and its sessions are measured (the store is
  // made after, as its arrays for `max` sessions are part of what each session costs).
  const nest = store === 'nest-memory';
  const code = nest
    ? await import(pathToFileURL(libIndex).href)
    : createRequire(root ? path.join(root, 'package.json') : import.meta.url)('express-session');
  const before = settle();
  const sessions = nest ? await nestStore(count, code) : await expressSessionStore(count, code);
  for (let i = 0; i < count; i++) await sessions.add();
  const after = settle();
  // Read the store after the measure: it stays reachable, and every session must still be there.
  if (sessions.size() !== count) throw new Error(`the store kept ${sessions.size()} of ${count} sessions`);
  process.stdout.write(
    JSON.stringify({
      store,
      count,
      heapPerSession: (after.heapUsed - before.heapUsed) / count,
      externalPerSession: (after.external - before.external) / count,
      idChars: sessions.idChars,
    }),
  );
}

if (process.argv[1] === HERE) {
  main(process.argv[2], Number(process.argv[3]), process.argv[4], process.argv[5]);
}
