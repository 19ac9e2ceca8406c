// The load generator: a child process of its own (run.js forks it once) that runs autocannon on
// request and reports req/s, latency and its own CPU time, so its cost never lands on the server.
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

/** Parent side: forks the generator and returns run(options) -> result, and close(). */
export function startLoadGenerator() {
  const child = fork(HERE, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let next = 0;
  child.on('message', (message) => {
    const done = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error) done?.reject(new Error(message.error));
    else done?.resolve(message.result);
  });
  child.on('exit', (code) => {
    for (const { reject } of waiting.values()) reject(new Error(`load generator exited (${code})`));
    waiting.clear();
  });
  return {
    /** { url, duration (s) or amount (requests), connections, headers } -> { rps, p50, p99, requests, errors, non2xx, cpuUs, seconds } */
    run(options) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, options });
      });
    },
    close() {
      if (child.exitCode === null) child.kill();
    },
  };
}

async function measure({ url, duration, amount, connections, headers, timeout = 10 }) {
  const before = process.cpuUsage();
  const started = process.hrtime.bigint();
  // sampleInt: autocannon stops at its next sample tick; 100 ms keeps short runs short.
  const result = await autocannon({
    url,
    // A fixed number of requests (the instruction counts), or as many as fit in `duration` seconds.
    ...(amount ? { amount } : { duration }),
    connections,
    headers,
    pipelining: 1,
    timeout,
    sampleInt: 100,
  });
  const cpu = process.cpuUsage(before);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuUs: cpu.user + cpu.system,
    seconds,
  };
}

if (process.argv[2] === '--worker') {
  process.on('message', ({ id, options }) => {
    measure(options).then(
      (result) => process.send({ id, result }),
      (error) => process.send({ id, error: String(error?.stack ?? error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
