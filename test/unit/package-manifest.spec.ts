import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../support/typecheck.js';

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

describe('package.json', () => {
  it('publishes dist/ only, as ESM with declarations, for import and require alike', () => {
    expect(manifest.type).toBe('module');
    expect(manifest.files).toEqual(['dist']);
    expect(manifest.main).toBe('./dist/index.js');
    expect(manifest.types).toBe('./dist/index.d.ts');
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
  });

  it('publishes the testing kit as nest-session/testing, found by every module resolution', () => {
    expect(manifest.exports['./testing']).toEqual({
      types: './dist/testing/index.d.ts',
      default: './dist/testing/index.js',
    });
    // TypeScript's node10 resolution (a CommonJS project's default) reads no exports: typesVersions.
    expect(manifest.typesVersions).toEqual({ '*': { testing: ['./dist/testing/index.d.ts'] } });
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
    expect(build.compilerOptions.rootDir).toBe('lib');
    expect(existsSync(join(root, 'lib', 'testing', 'index.ts'))).toBe(true);
  });

  it('leaves Nest, rxjs and reflect-metadata to the app; the database and redis clients and sodium-native optional', () => {
    for (const peer of ['@nestjs/common', '@nestjs/core', 'rxjs', 'reflect-metadata']) {
      expect(manifest.peerDependencies[peer]).toBeDefined();
      expect(manifest.dependencies[peer]).toBeUndefined();
    }
    for (const optional of ['typeorm', 'better-sqlite3', 'ioredis', 'sodium-native']) {
      expect(manifest.peerDependencies[optional]).toBeDefined();
      expect(manifest.peerDependenciesMeta[optional]).toEqual({ optional: true });
    }
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['cookie', 'lru-cache', 'proper-lockfile']);
  });

  it('has the scripts the README and CONTRIBUTING.md give', () => {
    const readme = ['README.md', 'CONTRIBUTING.md']
      .map((f) => readFileSync(join(root, f), 'utf8'))
      .join('\n');
    for (const script of [
      'sample',
      'test:services',
      'test:browser',
      'bench',
      'typecheck',
      'lint',
      'format:check',
    ]) {
      expect(manifest.scripts[script]).toBeDefined();
      expect(readme).toContain(`npm run ${script}`);
    }
    expect(readme).toContain('npm test');
  });

  it('builds declarations from lib/ without the specs', () => {
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
    expect(build.include).toEqual(['lib']);
    expect(build.exclude).toContain('**/*.spec.ts');
  });
});
