import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../support/typecheck.js';

const read = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8'));
const cli = read('nest-cli.json');
const manifest = read('package.json');

describe('nest-cli.json', () => {
  it('builds the library from lib/ with tsconfig.build.json, as `npm run build` (`nest build`) does', () => {
    expect(manifest.scripts.build).toBe('nest build');
    expect(manifest.devDependencies['@nestjs/cli']).toBeDefined();
    expect(cli.sourceRoot).toBe('lib');
    expect(cli.compilerOptions.tsConfigPath).toBe('tsconfig.build.json');
    expect(cli.projects['nest-session']).toMatchObject({
      type: 'library',
      sourceRoot: 'lib',
      entryFile: 'index',
      compilerOptions: { tsConfigPath: 'tsconfig.build.json' },
    });
    expect(read('tsconfig.build.json').compilerOptions).toMatchObject({ rootDir: 'lib', outDir: 'dist' });
  });

  it('has the sample as an application whose entry file starts it (`nest start sample`)', () => {
    const sample = cli.projects.sample;
    expect(sample).toMatchObject({ type: 'application', sourceRoot: 'sample' });
    expect(read(sample.compilerOptions.tsConfigPath).compilerOptions.outDir).toBe('../dist-sample');
    const entry = join(root, sample.sourceRoot, `${sample.entryFile}.ts`);
    expect(existsSync(entry)).toBe(true);
    expect(readFileSync(entry, 'utf8')).toContain('nest-session sample listening on');
    expect(readFileSync(join(root, 'sample', 'run.js'), 'utf8')).toMatch(/'build', project/);
  });
});
