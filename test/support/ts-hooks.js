// Module hooks for ts-register.js: TypeScript files are compiled with the repository's SWC options,
// `./x.js` imports find `./x.ts`, 'nest-session' is lib/index.ts and 'nest-session/testing' lib/testing/index.ts.
import { transformSync } from '@swc/core';
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
import { swcOptions } from '../../swc.options.js';

const ENTRIES = {
  'nest-session': new URL('../../lib/index.ts', import.meta.url).href,
  'nest-session/testing': new URL('../../lib/testing/index.ts', import.meta.url).href,
};

export async function resolve(specifier, context, next) {
  if (Object.hasOwn(ENTRIES, specifier)) return { url: ENTRIES[specifier], shortCircuit: true };
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
