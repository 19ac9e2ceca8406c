import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readmeFiles, sectionFiles, writeFiles } from '../support/readme.js';
import { root, typeErrors } from '../support/typecheck.js';

describe('typed SessionData', () => {
  it('types get/set/pull/all for augmented keys and leaves other keys unknown', () => {
    expect(typeErrors([`${root}test/types/session-data.ts`])).toEqual([]);
  }, 60_000);
});

describe('README', () => {
  it('every TypeScript block compiles; the blocks that name their file, as the files of an app', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    const dir = join(root, 'test', '.readme', 'types');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = blocks
      .filter((code) => !readmeFiles().some((named) => named.code === code))
      .map((code, i) => {
        const file = join(dir, `block-${i + 1}.ts`);
        writeFileSync(
          file,
          code.includes('import') || code.includes('export') ? code : `${code}\nexport {};\n`,
        );
        return file;
      });
    // Each section's app, once as it is and once with each variant (`// src/main.ts (Fastify)`).
    const named = readmeFiles();
    const apps = new Set(named.map((f) => JSON.stringify([f.section, f.variant ?? null])));
    [...apps].forEach((app, i) => {
      const [section, variant] = JSON.parse(app) as [string, string | null];
      const files = sectionFiles(section, variant ?? undefined);
      writeFiles(join(dir, `app-${i + 1}`), files);
    });
    // A Vitest spec needs vitest's types: checked once vitest is installed (a devDependency).
    const vitest = existsSync(join(root, 'node_modules', 'vitest', 'package.json'));
    const appFiles = [...apps].flatMap((_, i) =>
      readdirSync(join(dir, `app-${i + 1}`), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(dir, `app-${i + 1}`, f))
        .filter((f) => vitest || !readFileSync(f, 'utf8').includes("from 'vitest'")),
    );
    expect(appFiles.length).toBeGreaterThanOrEqual(named.filter((f) => f.path.endsWith('.ts')).length);
    try {
      expect(typeErrors([...files, ...appFiles])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('quotes the store interface verbatim from lib/core/change-set.ts and lib/stores/session-store.ts', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const quote = (file: string[], from: string, last: string) => {
      const source = readFileSync(join(root, 'lib', ...file), 'utf8');
      const start = source.indexOf(from);
      const end = source.indexOf('\n}', source.indexOf(last)) + 2;
      expect(start).toBeGreaterThanOrEqual(0);
      return source.slice(start, end);
    };
    expect(readme).toContain(
      quote(
        ['core', 'change-set.ts'],
        '/** What a server-side store keeps',
        'export interface SessionChanges',
      ),
    );
    const contract = quote(
      ['stores', 'session-store.ts'],
      "/**\n * A server-side driver's store.",
      'export interface DiagnosingSessionStore',
    );
    expect(contract).toContain('export interface ClosableSessionStore');
    expect(readme).toContain(contract);
  });
});
