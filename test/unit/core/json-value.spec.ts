import { describe, expect, it } from '@jest/globals';
import { assertJsonValue, MAX_DEPTH } from '../../../lib/core/json-value.js';

/** `levels` objects and arrays inside one another, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe('assertJsonValue', () => {
  const circular: Record<string, unknown> = {};
  circular.me = circular;
  const shared = { x: 1 };

  it.each([
    ['a function', () => 1, /function/],
    ['a symbol', Symbol('s'), /symbol/],
    ['a BigInt', 1n, /BigInt/],
    ['a circular object', circular, /circular/],
    ['NaN', NaN, /finite/],
    ['Infinity', Infinity, /finite/],
    ['a Map', new Map([[1, 2]]), /Map/],
    ['a Set', new Set([1]), /Set/],
    ['a Buffer', Buffer.from('x'), /binary/],
    ['undefined', undefined, /delete/],
    ['a nested function', { a: [1, { b: () => 2 }] }, /\.a: \[1\]: \.b: a function/],
    ['a symbol key', { [Symbol('k')]: 1 }, /symbol key/],
    ['undefined in an array', [1, undefined], /\[1\]: undefined would be stored as null/],
    ['an empty slot in an array', Object.assign([1], { 2: 3 }), /\[1\]: undefined would be stored as null/],
    ['a toJSON() returning undefined', { toJSON: () => undefined }, /toJSON\(\) returned undefined/],
    ['a toJSON() returning a BigInt', { toJSON: () => 1n }, /toJSON\(\) gave: a BigInt/],
    [
      'a nested toJSON() returning a Map',
      { a: { toJSON: () => new Map() } },
      /\.a: its toJSON\(\) gave: a Map/,
    ],
    [
      'a toJSON() that throws',
      {
        toJSON: () => {
          throw new Error('boom');
        },
      },
      /reading it threw \(boom\)/,
    ],
    ['an invalid Date', new Date(NaN), /invalid Date/],
    [`${MAX_DEPTH + 1} levels of objects and arrays`, nested(MAX_DEPTH + 1), /more than 64 levels deep/],
    ['100 000 levels (the check does not overflow the stack)', nested(100_000), /more than 64 levels deep/],
    ['a toJSON() giving a value too deep', { toJSON: () => nested(MAX_DEPTH + 1) }, /more than 64 levels/],
  ])('rejects %s with a TypeError naming the key', (_name, value, message) => {
    expect(() => assertJsonValue('the-key', value)).toThrow(TypeError);
    expect(() => assertJsonValue('the-key', value)).toThrow(/session key 'the-key'/);
    expect(() => assertJsonValue('the-key', value)).toThrow(message);
  });

  it.each([
    ['a string', 'x'],
    ['zero', 0],
    ['false', false],
    ['null', null],
    ['a Date (toJSON)', new Date(0)],
    ['nested plain data', { a: [1, 'two', { three: null }], b: { c: true } }],
    ['an object seen twice but not circular', { a: shared, b: shared }],
    ['an object with an undefined property (JSON drops it)', { a: undefined }],
    [`${MAX_DEPTH} levels of objects and arrays`, nested(MAX_DEPTH)],
    ['a toJSON() giving plain data', { toJSON: () => ({ kind: 'money', cents: 5 }) }],
    ['a toJSON() giving an object whose own toJSON JSON ignores', { toJSON: () => ({ toJSON: 1 }) }],
  ])('accepts %s', (_name, value) => {
    expect(() => assertJsonValue('k', value)).not.toThrow();
  });

  it('calls toJSON with the key, as JSON.stringify does', () => {
    const keys: string[] = [];
    const spy = { toJSON: (key: string) => (keys.push(key), 'x') };
    assertJsonValue('top', { inner: spy, list: [spy] });
    assertJsonValue('top', spy);
    expect(keys).toEqual(['inner', '0', 'top']);
  });
});
