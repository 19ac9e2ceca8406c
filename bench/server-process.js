// Starts one bench server as a fresh child process (on the Node of the run's runtime) (its own temp cwd, NODE_ENV=production), waits
// for its port, asks it for its CPU time, and stops it cleanly (so --cpu-prof can write).
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { serverPath } from './build.js';

const START_TIMEOUT_MS = 120_000;

/**
 * Resolves with { port, pid, cpuUs(), stop() }, or with { unavailable: reason } when the server
 * could not start (a driver not built yet, a store that cannot be reached).
 */
export async function startServer(
  file,
  config,
  { execArgv = [], runtime, wrapper, startTimeoutMs = START_TIMEOUT_MS } = {},
) {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nest-session-bench-'));
  const node = runtime?.execPath ?? process.execPath;
  // `wrapper`: [command, ...args] the server's Node runs under (valgrind); IPC still reaches it.
  const child = fork(serverPath(file, runtime?.root), [JSON.stringify(config)], {
    cwd,
    execArgv: wrapper ? [...wrapper.slice(1), node, ...execArgv] : execArgv,
    execPath: wrapper ? wrapper[0] : node,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const cleanup = () => rm(cwd, { recursive: true, force: true });

  const first = await Promise.race([
    new Promise((resolve) => child.once('message', resolve)),
    exited.then((code) => ({ type: 'unavailable', reason: `exited (${code}) ${lastLine(stderr)}` })),
    delay(startTimeoutMs).then(() => ({
      type: 'unavailable',
      reason: `did not start within ${startTimeoutMs / 1000} s`,
    })),
  ]);
  if (first.type !== 'ready') {
    child.kill('SIGKILL');
    await exited;
    await cleanup();
    return { unavailable: first.reason };
  }

  let nextId = 0;
  const ask = (type) => {
    const id = nextId++;
    return new Promise((resolve) => {
      const onMessage = (message) => {
        if (message.type !== type || message.id !== id) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.send({ type, id });
    });
  };
  return {
    port: first.port,
    pid: child.pid,
    /** The server's user + system CPU time so far, in microseconds. */
    async cpuUs() {
      const message = await ask('cpu');
      return message.usage.user + message.usage.system;
    },
    /** A full GC in the server (when it was started with --expose-gc). */
    async gc() {
      await ask('gc');
    },
    async stop() {
      if (child.exitCode === null && child.connected) child.send({ type: 'stop' });
      const code = await Promise.race([exited, delay(15_000).then(() => 'timeout')]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
      await cleanup();
    },
  };
}

function lastLine(text) {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
