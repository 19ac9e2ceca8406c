import { describe, expect, it } from '@jest/globals';
import { readPayload, writePayload } from '../../../lib/stores/database/payload.js';

const user = { id: 'u1', signedInAt: 1765093123456, ip: '10.0.0.0', userAgent: 'Agent "quoted" \\ ,"user":' };

/** Payloads as JSON.stringify writes them, and ones it never writes, with "user" everywhere it can be. */
const payloads = [
  { data: { n: 1 }, flash: {} },
  { data: { n: 1 }, flash: {}, user },
  { data: { n: 1 }, flash: { ok: 'yes' }, user, policy: 'remember' },
  { data: { n: 1 }, flash: {}, policy: 'kiosk' },
  { data: { a: 1, user: { id: 'nested' } }, flash: {} },
  { data: { a: 1, user: { id: 'nested' } }, flash: {}, user },
  { data: {}, flash: { k: 1, user: { id: 'in flash' } } },
  { data: {}, flash: { k: [1, { x: 1, user: { id: 'in an array' } }] } },
  { data: { s: ',"user":{"id":"in a string"}}' }, flash: {} },
  { data: { s: '\\",\\"user\\":' }, flash: {}, user },
  { data: {}, flash: {}, user: { id: 'u2', signedInAt: 1 }, policy: 'remember', extra: 1 },
  { data: {}, flash: {}, user: 'not an object' },
  { data: {}, flash: {}, user: null },
];

describe('database payloads', () => {
  it.each(payloads.map((p, i) => [JSON.stringify(p), `s${i}`]))(
    'reads %s as JSON.parse does, twice',
    (json, id) => {
      expect(readPayload(json, id)).toEqual(JSON.parse(json));
      expect(readPayload(json, id)).toEqual(JSON.parse(json));
      expect(readPayload(json)).toEqual(JSON.parse(json));
    },
  );

  it("reads a session's payload anew once it no longer ends with the tail read before", () => {
    const before = JSON.stringify({ data: { n: 1 }, flash: {}, user });
    expect(readPayload(before, 'changing').user).toEqual(user);
    const other = { id: 'u9', signedInAt: 9 };
    for (const after of [
      { data: { n: 2 }, flash: {}, user: other },
      { data: { n: 2 }, flash: {}, user, policy: 'remember' },
      { data: { n: 2 }, flash: {} },
      { data: { n: 2, user }, flash: {} },
    ]) {
      const json = JSON.stringify(after);
      expect(readPayload(json, 'changing')).toEqual(JSON.parse(json));
    }
    const tailOnly = JSON.stringify(user);
    expect(readPayload(`{"user":${tailOnly}}`, 'changing')).toEqual({ user });
  });

  it('reads what JSON.parse reads when the user key is repeated, and refuses what is not JSON', () => {
    const repeated = '{"data":{},"user":{"id":"first"},"flash":{},"policy":"p","user":{"id":"last"}}';
    expect(readPayload(repeated, 'r')).toEqual(JSON.parse(repeated));
    expect(() => readPayload('{"data":{},"flash":{},"user":{"id":"u"}', 'r')).toThrow(SyntaxError);
    expect(() => readPayload('{"data":{,"flash":{},"user":{"id":"u"}}', 'r')).toThrow(SyntaxError);
  });

  it('keeps the user of a known tail, frozen and shared, and writes its text back', () => {
    const json = JSON.stringify({ data: { n: 1 }, flash: {}, user, policy: 'remember' });
    const first = readPayload(json, 'k');
    const second = readPayload(json, 'k');
    expect(second.user).toBe(first.user);
    expect(Object.isFrozen(first.user)).toBe(true);
    const written = writePayload({ n: 2 }, { f: 1 }, first.user as typeof user, 'remember');
    expect(written).toBe(JSON.stringify({ data: { n: 2 }, flash: { f: 1 }, user, policy: 'remember' }));
  });

  it('writes as JSON.stringify does when the policy changed or the user was never read', () => {
    const json = JSON.stringify({ data: {}, flash: {}, user: { ...user, id: 'u3' } });
    const read = readPayload(json, 'w');
    const kept = read.user as typeof user;
    expect(writePayload({}, {}, kept, 'kiosk')).toBe(
      JSON.stringify({ data: {}, flash: {}, user: kept, policy: 'kiosk' }),
    );
    expect(writePayload({ a: 1 }, {}, { id: 'new', signedInAt: 2 })).toBe(
      JSON.stringify({ data: { a: 1 }, flash: {}, user: { id: 'new', signedInAt: 2 } }),
    );
    expect(writePayload({ a: 1 }, {})).toBe('{"data":{"a":1},"flash":{}}');
  });
});
