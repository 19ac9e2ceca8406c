import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readmeDirectory, sectionFiles, writeFiles } from '../support/readme.js';

// The README's "Testing an app that uses sessions", copied as a reader copies it, run with each
// runner it shows: its Jest spec here, in this file; its node:test file with `node --test`, through
// the repository's TypeScript loader. Its Vitest spec runs against the packed package
// (commonjs.e2e-spec.ts), as a reader's does: a reader's Vitest never transforms lib/'s sources.

const directory = readmeDirectory();
writeFiles(directory.path, sectionFiles('Testing an app that uses sessions'));
afterAll(() => directory.remove());

// The Jest spec's describe.each joins this file's tests.
await import(join(directory.path, 'test', 'account.spec.ts'));

const run = promisify(execFile);
/** The environment without Jest's --experimental-vm-modules. */
const { NODE_OPTIONS: _jest, ...env } = process.env;
const TS_LOADER = fileURLToPath(new URL('../support/ts-register.js', import.meta.url));

describe('the README testing section under other runners', () => {
  it('node --test runs test/cart.test.ts: a service in a session, an app.inject() response', async () => {
    const { stdout } = await run(process.execPath, ['--import', TS_LOADER, '--test', 'test/cart.test.ts'], {
      cwd: directory.path,
      env,
    });
    expect(stdout).toContain('ok 1 - keeps what CartService adds to the session, without HTTP');
    expect(stdout).toContain('ok 2 - reads the session a Fastify app.inject() response left');
    expect(stdout).toMatch(/^# pass 2$/m);
    expect(stdout).toMatch(/^# fail 0$/m);
  }, 60_000);
});
