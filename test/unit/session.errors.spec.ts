import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SESSION_ERROR_CODES,
  SessionConfigError,
  SessionError,
  SessionStoreMisconfiguredError,
} from '../../lib/session.errors.js';
import { root } from '../support/typecheck.js';

describe('error codes', () => {
  it("are the codes the README's Errors table lists, no more and no fewer", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('### Errors'),
      readme.indexOf('\n## ', readme.indexOf('### Errors')),
    );
    // The first cell of each row of the table.
    const cells = section.split('\n').flatMap((line) => (line.startsWith('| `') ? [line.split('|')[1]] : []));
    const listed = new Set(
      cells.flatMap((cell) => [...cell.matchAll(/`(SESSION_[A-Z_]+)`/g)].map((m) => m[1])),
    );
    expect([...listed].sort()).toEqual([...SESSION_ERROR_CODES].sort());
  });

  it('a misconfigured store is its own class, a 500 that names the fix and the cause', () => {
    const cause = new Error('WRONGPASS');
    const error = new SessionStoreMisconfiguredError('redis', 'check the password in redis.url', cause);
    expect(error).toBeInstanceOf(SessionConfigError);
    expect(error).toBeInstanceOf(SessionError);
    expect(error.code).toBe('SESSION_STORE_MISCONFIGURED');
    expect(error.getStatus()).toBe(500);
    expect(error.message).toBe(
      "SESSION_STORE_MISCONFIGURED: the 'redis' session store is misconfigured: check the password in redis.url",
    );
    expect(error.cause).toBe(cause);
  });
});
