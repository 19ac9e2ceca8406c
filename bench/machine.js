// The machine and the versions a result belongs to.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { ROOT } from './build.js';

const PACKAGES = [
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  'express',
  'fastify',
  'express-session',
  'connect-redis',
  'redis',
  'better-sqlite3-session-store',
  'better-sqlite3',
  'cookie-session',
  '@fastify/session',
  '@fastify/cookie',
  '@fastify/secure-session',
  'typeorm',
  'ioredis',
  'lru-cache',
  'autocannon',
  'connect-flash',
];

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
  };
}

/** Versions of the stack; the packages as installed for the primary Node (`root`, see runtimes.js). */
export function versions(redisVersion, runtimes = [], primary) {
  const out = {
    node: primary?.version ?? process.version,
    'other Nodes (headline table)':
      runtimes
        .filter((r) => r !== primary)
        .map((r) => r.version)
        .join(', ') || 'none',
    'load generator Node': process.version,
    'nest-session': `${packageVersion(ROOT, '.')} (${gitState()})`,
  };
  for (const name of PACKAGES)
    out[name] = packageVersion(primary?.root ?? ROOT, path.join('node_modules', name));
  out['redis-server'] = redisVersion ?? 'not installed';
  return out;
}

function packageVersion(root, dir) {
  try {
    return JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function gitState() {
  try {
    const run = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const commit = run('rev-parse', '--short', 'HEAD');
    const dirty = run('status', '--porcelain', '--', 'lib') !== '';
    return dirty ? `${commit} + uncommitted lib/ changes` : commit;
  } catch {
    return 'no git';
  }
}
