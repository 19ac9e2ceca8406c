// Module hooks for ts-register.js: TypeScript files are compiled with the repository's SWC options,
// `./x.js` imports find `./x.ts`, and 'nest-session' is lib/index.ts.
import { transformSync } from '@swc/core';
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
import { swcOptions } from '../../swc.options.js';

const INDEX = new URL('../../lib/index.ts', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'nest-session') return { url: INDEX, shortCircuit: true };
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(ts))) return { url: ts.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const source = (await next(url, { ...context, format: 'module' })).source;
  const { code } = transformSync(String(source), {
    ...swcOptions,
    filename: fileURLToPath(url),
    sourceMaps: 'inline',
  });
  return { format: 'module', source: code, shortCircuit: true };
}
