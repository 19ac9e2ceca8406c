import { describe, expect, it } from '@jest/globals';
import { declaredKeys, knownFrom, parseRecord } from '../../../lib/stores/redis/redis.record.js';

/** A signed-in session's hash as HGETALL answers it. */
function hash(user: object): Record<string, string> {
  return {
    'm:c': '1000',
    'm:a': '2000',
    'd:count': '3',
    'm:i': 'u%7b1%7d',
    'm:u': JSON.stringify(user),
  };
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

  it('takes the user an earlier read parsed while the hash holds the same JSON, and reads a changed one anew', () => {
    const fields = hash({ id: 'u{1}', signedInAt: 5, ip: '10.0.0.0' });
    const first = parseRecord(fields)!;
    const known = knownFrom(fields, first.user!);
    expect(known).toMatchObject({ user: 'u%7b1%7d', signedInAt: 5 });
    expect(parseRecord(fields, known)!.user).toBe(first.user);
    const again = parseRecord(hash({ id: 'u{1}', signedInAt: 6 }), known)!;
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
});
