import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { root } from '../../support/typecheck.js';

/** Every file of lib/ a module loads, following its relative imports (static and dynamic). */
function loadedFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith('.')) visit(resolve(dirname(file), fileName.replace(/\.js$/, '.ts')));
    }
  };
  visit(join(root, 'lib', entry));
  return new Set([...seen].map((file) => relative(join(root, 'lib'), file)));
}

describe('the nest-session/testing entry point', () => {
  it('is never loaded by the root entry: an app that imports nest-session carries no kit', () => {
    const root = loadedFrom('index.ts');
    expect(root.size).toBeGreaterThan(40);
    expect([...root].filter((file) => file.startsWith('testing/'))).toEqual([]);
    const kit = loadedFrom('testing/index.ts');
    expect([...kit].filter((file) => file.startsWith('testing/')).sort()).toEqual([
      'testing/browser-cookie.ts',
      'testing/cookie-source.ts',
      'testing/expectations.ts',
      'testing/index.ts',
      'testing/production.ts',
      'testing/session-testing.ts',
      'testing/test-clock.ts',
      'testing/test-scope.ts',
    ]);
    // The kit and the app share one SessionManager class: the kit finds the app's manager by it.
    expect(kit.has('session-manager.ts')).toBe(true);
  });
});
