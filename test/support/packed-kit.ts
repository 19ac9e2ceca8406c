import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { sectionFiles, writeFiles } from './readme.js';
import { root } from './typecheck.js';

// nest-session/testing as a project that installs the packed package uses it, in CommonJS (TypeScript's
// node10 resolution, which reads no "exports") and in ESM (nodenext): the README testing section's
// app and node:test file, with a check of the entry points of its own, compiled by tsc and run with
// `node --test`; on ESM, the README's Vitest spec too, once vitest is installed.

export type ModuleFormat = 'commonjs' | 'module';

const execute = promisify(execFile);
const TSC = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const VITEST = join(root, 'node_modules', 'vitest', 'vitest.mjs');

/** The packages the projects link from the repository (the package's own come from its manifest). */
const LINKED = [
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  '@nestjs/testing',
  '@types/node',
  '@types/supertest',
  'supertest',
  'vitest',
];

const ENTRY_TEST = `import { Test } from '@nestjs/testing';
import * as root from 'nest-session';
import { SessionManager } from 'nest-session';
import { SessionTesting, toBrowserCookie } from 'nest-session/testing';
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AppModule } from '../src/app.module.js';
import { SECRET } from './start-app.js';

it('nest-session/testing works on the app of the root entry, which carries no kit', async () => {
  assert.equal('SessionTesting' in root, false);
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.register({ secret: SECRET, driver: 'cookie' })],
  }).compile();
  try {
    assert.ok(moduleRef.get(SessionManager));
    const sessions = SessionTesting.for(moduleRef);
    const cookie = await sessions.mint({ userId: 'u1', data: { theme: 'dark' } });
    const read = await sessions.read(cookie);
    assert.equal(read?.userId, 'u1');
    assert.deepEqual(read?.data, { theme: 'dark' });
    assert.equal(toBrowserCookie(cookie, { url: 'http://localhost' })[0].name, 'nest_session');
  } finally {
    await moduleRef.close();
  }
});
`;

/** The environment of the tests without Jest's --experimental-vm-modules. */
export function childEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _jestFlags, ...inherited } = process.env;
  return { ...inherited, NO_COLOR: '1' };
}

export async function runIn(cwd: string, command: string, args: string[]): Promise<string> {
  try {
    return (await execute(command, args, { cwd, env: childEnv(), encoding: 'utf8' })).stdout;
  } catch (error: any) {
    throw new Error(`${command} ${args.join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`, {
      cause: error,
    });
  }
}

/** A link to the repository's copy of a package, which resolves its own dependencies from there. */
export function linkFromRepository(modules: string, name: string): void {
  const target = join(root, 'node_modules', name);
  if (!existsSync(target) || existsSync(join(modules, name))) return;
  mkdirSync(dirname(join(modules, name)), { recursive: true });
  symlinkSync(target, join(modules, name), 'dir');
}

/** A project of `format` with the packed package installed and the README's tests compiled. */
export async function kitProject(dir: string, tarball: string, format: ModuleFormat): Promise<string> {
  const project = join(dir, `kit-${format}`);
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, 'nest-session'), { recursive: true });
  const manifest = {
    name: `kit-${format}`,
    private: true,
    ...(format === 'module' ? { type: 'module' } : {}),
  };
  writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
  const module =
    format === 'module' ? { module: 'nodenext', moduleResolution: 'nodenext' } : { module: 'commonjs' };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      ...module,
      strict: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
      skipLibCheck: true,
      types: ['node'],
      rootDir: '.',
      outDir: 'dist',
    },
    include: ['src', 'test'],
    // The Jest and Vitest specs run under their runners, not node --test.
    exclude: ['test/account.spec.ts', 'test/expiry.spec.ts'],
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  writeFiles(project, sectionFiles('Testing an app that uses sessions'));
  writeFileSync(join(project, 'test', 'entry.test.ts'), ENTRY_TEST);
  await runIn(project, 'tar', ['-xzf', tarball, '-C', join(modules, 'nest-session'), '--strip-components=1']);
  const installed = JSON.parse(readFileSync(join(modules, 'nest-session', 'package.json'), 'utf8'));
  for (const name of [
    ...Object.keys(installed.dependencies ?? {}),
    ...Object.keys(installed.peerDependencies ?? {}),
    ...LINKED,
  ]) {
    linkFromRepository(modules, name);
  }
  await runIn(project, process.execPath, [TSC, '-p', project]);
  return project;
}

/** `node --test` on the project's compiled tests: its TAP report. */
export function nodeTest(project: string): Promise<string> {
  return runIn(project, process.execPath, [
    '--test',
    '--test-reporter=tap', // Node 20's default when not on a terminal; Node 23 and later print 'spec'
    'dist/test/cart.test.js',
    'dist/test/entry.test.js',
  ]);
}

/** Vitest on the README's Vitest spec, resolving nest-session from node_modules as a reader's project does. */
export function vitest(project: string): Promise<string> {
  return runIn(project, process.execPath, [VITEST, 'run', 'test/expiry.spec.ts']);
}

/** A compiled file of the project. */
export const compiled = (project: string, file: string) => readFileSync(join(project, 'dist', file), 'utf8');
