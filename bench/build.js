// Compiles lib/ and bench/servers/ with SWC (decorator metadata, as the tests do) into a cache
// folder that mirrors the repo, so the bench runs the library's current source on a fresh clone
// without `npm run build`, and a half-finished type elsewhere in lib/ does not stop it. One copy per
// Node the servers run on, each next to the node_modules built for that Node (see runtimes.js).
import { transformFile } from '@swc/core';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { swcOptions } from '../swc.options.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * The bench's cache: Node binaries, their dependencies, the compiled copies. Under bench/node_modules/
 * (git, ESLint, Prettier and tsc skip node_modules folders; the repo's own node_modules, shared with
 * other checkouts, is never written to), and still below the repo, so the copy the running Node uses
 * resolves the repo's node_modules.
 */
export const CACHE = path.join(ROOT, 'bench', 'node_modules', '.cache', 'nest-session-bench');

/** The compiled copy the running Node uses. */
export const OUT = path.join(CACHE, 'build');

/** Where the compiled copy lives for a runtime whose dependencies are in `root` (see runtimes.js). */
export function outOf(root = ROOT) {
  return root === ROOT ? OUT : path.join(root, 'build');
}

const SWC_OPTIONS = { ...swcOptions, sourceMaps: false };

/** The compiled path of a server file, e.g. serverPath('nest') -> .../bench/servers/nest.js. */
export function serverPath(name, root = ROOT) {
  return path.join(outOf(root), 'bench', 'servers', `${name}.js`);
}

/** The compiled path of a lib file, e.g. libPath('index') -> .../lib/index.js. */
export function libPath(name, root = ROOT) {
  return path.join(outOf(root), 'lib', `${name}.js`);
}

/** Compiles once and writes a copy for each dependency root (the repo's, and one per fetched Node). */
export async function build(roots = [ROOT]) {
  const sources = [...(await tsFiles('lib')), ...(await tsFiles('bench/servers'))];
  const compiled = await Promise.all(
    sources.map(async (relative) => {
      const { code } = await transformFile(path.join(ROOT, relative), SWC_OPTIONS);
      return { target: relative.replace(/\.ts$/, '.js'), code };
    }),
  );
  const wanted = [...compiled, { target: 'package.json', code: '{ "type": "module" }\n' }];
  for (const root of new Set(roots)) {
    const out = outOf(root);
    // Files are rewritten only when they change, and removed only when their source is gone: a run
    // started while another one is running does not pull files from under its servers.
    for (const { target, code } of wanted) {
      const file = path.join(out, target);
      if ((await readFile(file, 'utf8').catch(() => undefined)) === code) continue;
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, code);
    }
    const keep = new Set(wanted.map((w) => path.join(out, w.target)));
    const present = await readdir(out, { recursive: true, withFileTypes: true });
    for (const entry of present) {
      const file = path.join(entry.parentPath ?? entry.path, entry.name);
      if (entry.isFile() && !keep.has(file)) await rm(file, { force: true });
    }
  }
  return sources.length;
}

async function tsFiles(dir) {
  const entries = await readdir(path.join(ROOT, dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !/\.(spec|e2e-spec|d)\.ts$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath ?? e.path, e.name)));
}
