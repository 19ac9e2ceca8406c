import { describe, expect, it } from '@jest/globals';
import { assertJsonValue } from '../../../lib/core/json-value.js';

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
  ])('accepts %s', (_name, value) => {
    expect(() => assertJsonValue('k', value)).not.toThrow();
  });
});
