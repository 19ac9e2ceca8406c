import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readmeDirectory, sectionFiles, writeFiles } from '../support/readme.js';
import { root } from '../support/typecheck.js';

// The README's "Testing an app that uses sessions", copied as a reader copies it, run with each
// runner it shows: its Jest spec here, in this file; its node:test file with `node --test`, through
// the repository's TypeScript loader; its Vitest spec with vitest, on lib/'s sources (Vite's module
// runner awaits every module it loads, so no module of lib/ may export a function named `then`). The
// packed package runs the node:test file and the Vitest spec compiled (commonjs.e2e-spec.ts).

const directory = readmeDirectory();
writeFiles(directory.path, sectionFiles('Testing an app that uses sessions'));
afterAll(() => directory.remove());

// The Jest spec's describe.each joins this file's tests.
await import(join(directory.path, 'test', 'account.spec.ts'));

const run = promisify(execFile);
/** The environment without Jest's --experimental-vm-modules. */
const { NODE_OPTIONS: _jest, ...env } = process.env;
const TS_LOADER = fileURLToPath(new URL('../support/ts-register.js', import.meta.url));
const VITEST = join(root, 'node_modules', 'vitest', 'vitest.mjs');

describe('the README testing section under other runners', () => {
  it('node --test runs test/cart.test.ts: a service in a session, an app.inject() response', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', TS_LOADER, '--test', '--test-reporter=tap', 'test/cart.test.ts'],
      {
        cwd: directory.path,
        env,
      },
    );
    expect(stdout).toContain('ok 1 - keeps what CartService adds to the session, without HTTP');
    expect(stdout).toContain('ok 2 - reads the session a Fastify app.inject() response left');
    expect(stdout).toMatch(/^# pass 2$/m);
    expect(stdout).toMatch(/^# fail 0$/m);
  }, 60_000);

  it('vitest runs test/expiry.spec.ts: sessions on the clock', async () => {
    // 'nest-session' is lib/ here, as the tests' other resolvers have it; a reader's is installed.
    const lib = (file: string) => JSON.stringify(join(root, 'lib', file));
    writeFileSync(
      join(directory.path, 'vitest.config.mjs'),
      `export default { resolve: { alias: [
        { find: /^nest-session\\/testing$/, replacement: ${lib('testing/index.ts')} },
        { find: /^nest-session$/, replacement: ${lib('index.ts')} },
      ] } };\n`,
    );
    const { stdout } = await run(process.execPath, [VITEST, 'run', 'test/expiry.spec.ts'], {
      cwd: directory.path,
      env: { ...env, NO_COLOR: '1', CI: '1' },
    });
    expect(stdout).toMatch(/Tests\s+1 passed \(1\)/);
  }, 60_000);
});
