// Compiles lib/ and bench/servers/ with SWC (decorator metadata, as the tests do) into a cache
// folder that mirrors the repo, so the bench runs the library's current source on a fresh clone
// without `npm run build`, and a half-finished type elsewhere in lib/ does not stop it.
import { transformFile } from '@swc/core';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { swcOptions } from '../swc.options.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = path.join(ROOT, 'node_modules', '.cache', 'nest-session-bench');

const SWC_OPTIONS = { ...swcOptions, sourceMaps: false };

/** The compiled path of a server file, e.g. serverPath('nest') -> .../bench/servers/nest.js. */
export function serverPath(name) {
  return path.join(OUT, 'bench', 'servers', `${name}.js`);
}

/** The compiled path of a lib file, e.g. libPath('index') -> .../lib/index.js. */
export function libPath(name) {
  return path.join(OUT, 'lib', `${name}.js`);
}

export async function build() {
  await rm(OUT, { recursive: true, force: true });
  const sources = [...(await tsFiles('lib')), ...(await tsFiles('bench/servers'))];
  await Promise.all(
    sources.map(async (relative) => {
      const { code } = await transformFile(path.join(ROOT, relative), SWC_OPTIONS);
      const target = path.join(OUT, relative.replace(/\.ts$/, '.js'));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, code);
    }),
  );
  // Under node_modules/ Node stops looking for the repo's package.json: say ESM here.
  await writeFile(path.join(OUT, 'package.json'), '{ "type": "module" }\n');
  return sources.length;
}

async function tsFiles(dir) {
  const entries = await readdir(path.join(ROOT, dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !/\.(spec|e2e-spec|d)\.ts$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath ?? e.path, e.name)));
}
