import { describe, expect, it } from '@jest/globals';
import {
  declaredKeys,
  fieldOf,
  indexAhead,
  indexScore,
  knownFrom,
  noteIndexed,
  parseRecord,
} from '../../../lib/stores/redis/redis.record.js';
import type { Redis } from 'ioredis';
import { hashOf } from '../../../lib/stores/redis/redis.client.js';
import { changes, meta } from '../../support/fixtures.js';

/** A signed-in session's hash as HGETALL answers it: field, value, field, value... */
function hash(user: object): string[] {
  return ['m:c', '1000', 'm:a', '2000', 'd:count', '3', 'm:i', 'u%7b1%7d', 'm:u', JSON.stringify(user)];
}

describe('redis records', () => {
  it('reads a signed-in hash with its user frozen', () => {
    const record = parseRecord(hash({ id: 'u{1}', signedInAt: 5 }))!;
    expect(record).toEqual({
      data: { count: 3 },
      flash: {},
      createdAt: 1000,
      lastActivity: 2000,
      user: { id: 'u{1}', signedInAt: 5 },
    });
    expect(Object.isFrozen(record.user)).toBe(true);
  });

  it('reads every kind of field, in any order, and nothing from a hash that is not a live session', () => {
    const escaped = JSON.stringify('a\uD800');
    const record = parseRecord([
      'f:note',
      '"hi"',
      'D:' + escaped,
      '1',
      'm:s',
      '40',
      'm:p',
      '"remember"',
      'd:__proto__',
      '{"x":1}',
      'F:' + escaped,
      '2',
      'm:a',
      '2000',
      'x:other',
      '0',
      'm:c',
      '1000',
    ])!;
    expect(record.createdAt).toBe(1000);
    expect(record.lastActivity).toBe(2000);
    expect(record.policy).toBe('remember');
    expect(Object.keys(record.data)).toEqual(['a\uD800', '__proto__']);
    expect(Object.getPrototypeOf(record.data)).toBe(Object.prototype);
    expect(record.data['__proto__']).toEqual({ x: 1 });
    expect(record.flash).toEqual({ note: 'hi', 'a\uD800': 2 });
    expect(parseRecord(['m:r', '5000'])).toBeUndefined();
    expect(parseRecord(['m:c', '1', 'm:a', '2', 'm:r', '9'])).toBeUndefined();
    let asked = 0;
    expect(parseRecord(['m:c', '1', 'm:a', '2'], () => void asked++)).toBeDefined();
    expect(asked).toBe(0); // an anonymous hash: what was known of a binding is never looked up
    expect(parseRecord([])).toBeUndefined();
    expect(parseRecord(['m:c', '1', 'm:a', '2', 'd:x', '{not json'])).toBeUndefined();
    expect(fieldOf(['m:c', '1', 'm:r', '9'], 'm:r')).toBe('9');
    expect(fieldOf(['m:c', '1', 'm:r', '9'], 'm:u')).toBeUndefined();
  });

  it('takes the user an earlier read parsed while the hash holds the same JSON, and reads a changed one anew', () => {
    const fields = hash({ id: 'u{1}', signedInAt: 5, ip: '10.0.0.0' });
    const first = parseRecord(fields)!;
    const known = knownFrom(fields, first.user!);
    expect(known).toMatchObject({ user: 'u%7b1%7d', signedInAt: 5 });
    expect(parseRecord(fields, () => known)!.user).toBe(first.user);
    const again = parseRecord(hash({ id: 'u{1}', signedInAt: 6 }), () => known)!;
    expect(again.user).toEqual({ id: 'u{1}', signedInAt: 6 });
    expect(again.user).not.toBe(first.user);
  });

  it("makes a binding's declared index keys once", () => {
    const known = knownFrom(hash({ id: 'u{1}', signedInAt: 5 }), { id: 'u{1}', signedInAt: 5 });
    const keys = declaredKeys('s:', known);
    expect(keys).toEqual(['s:user:{u%7b1%7d}', 's:user:{u%7b1%7d}:s']);
    expect(declaredKeys('s:', known)).toBe(keys);
    expect(declaredKeys('s:', undefined)).toEqual([]);
  });

  it("scores an index entry ahead of its session's expiry by a sixteenth of the time left, at most a minute", () => {
    expect(indexScore(meta(1000, 1600))).toBe(2700);
    expect(indexScore(meta(1000, 7_200_000))).toBe(7_201_000 + 60_000);
    expect(indexScore(meta(1000, 0))).toBe(1000);
  });

  it("leaves the index alone only for a write that keeps the binding, counts no limit and expires before the entry's score", () => {
    const user = { id: 'u{1}', signedInAt: 5 };
    const known = knownFrom(hash(user), user);
    const at = meta(1000, 2000);
    expect(indexAhead(known, changes({ set: { a: 1 } }), at)).toBe(false); // no score known yet
    noteIndexed(known, { user: 'u%7b1%7d', signedInAt: 5 }, at);
    expect(known.indexed).toBe(indexScore(at));
    expect(indexAhead(known, changes({ set: { a: 1 } }), { ...at, expiresAt: 3125 })).toBe(true);
    expect(indexAhead(known, changes({ set: { a: 1 } }), { ...at, expiresAt: 3126 })).toBe(false);
    expect(indexAhead(known, changes({ user: null }), at)).toBe(false);
    expect(indexAhead(known, changes({ user: { id: 'v', signedInAt: 9 } }), at)).toBe(false);
    const limit = { max: 1, onLimit: 'reject' as const, until: 0, revoked: [] };
    expect(indexAhead(known, changes({}), { ...at, limit })).toBe(false);
    // A score learnt here never falls, and belongs to its binding: another user's write teaches nothing.
    noteIndexed(known, { user: 'u%7b1%7d', signedInAt: 5 }, { ...at, expiresAt: 2000 });
    expect(known.indexed).toBe(indexScore(at));
    noteIndexed(known, { user: 'v', signedInAt: 9 }, { ...at, expiresAt: 9000 });
    expect(known.indexed).toBe(indexScore(at));
    // A later read of the same binding keeps the score; of another sign-in, it starts again.
    expect(knownFrom(hash(user), user, known).indexed).toBe(known.indexed);
    const again = { ...user, signedInAt: 6 };
    expect(knownFrom(hash(again), again, known).indexed).toBeUndefined();
  });

  it('reads an HGETALL answered as an object back into the list (an ioredis that transforms it anyway)', async () => {
    const client = { call: async () => ({ 'm:c': '1', 'd:a': '2' }) } as unknown as Redis;
    expect(await hashOf(client, 'k')).toEqual(['m:c', '1', 'd:a', '2']);
  });
});
