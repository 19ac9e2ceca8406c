import { describe, expect, it } from '@jest/globals';
import { isEmptyChanges } from '../../../lib/core/change-set.js';
import { MAX_DEPTH } from '../../../lib/core/json-value.js';
import { SessionState } from '../../../lib/core/session-state.js';

let n = 0;
const ids = () => `id-${++n}`;
const loaded = (data = {}, flash = {}) =>
  new SessionState('old', { data, flash, createdAt: 1, lastActivity: 2 }, ids);

describe('SessionState', () => {
  it('reads data before flash, counts falsy values, and records what changed', () => {
    const s = loaded({ a: 0 }, { a: 'flash-a', b: '' });
    expect(s.get('a')).toBe(0);
    expect(s.get('b')).toBe('');
    expect(s.has('b')).toBe(true);
    expect(s.has('c')).toBe(false);
    s.set('c', false);
    s.delete('a');
    expect(s.changes(false, false)).toEqual({
      clearData: false,
      clearFlash: false,
      set: { c: false },
      deleted: ['a'],
      flash: {},
      flashCleared: {},
    });
  });

  it('a key set after being deleted is a set, and a key deleted after being set is a delete', () => {
    const s = loaded({ a: 1 });
    s.delete('a');
    s.set('a', 2);
    s.set('b', 3);
    s.delete('b');
    const c = s.changes(false, false);
    expect(c.set).toEqual({ a: 2 });
    expect(c.deleted).toEqual(['b']);
    expect(s.delete('missing')).toBe(false);
  });

  it('consumes the flash it saw on success: given flash is cleared by compare, flashed values are not written', () => {
    const s = loaded({}, { given: { x: 1 } });
    s.flash('added', 'y');
    expect(s.flashes()).toEqual({ given: { x: 1 }, added: 'y' });
    expect(s.changes(true, false)).toMatchObject({ flash: {}, flashCleared: { given: '{"x":1}' } });
    expect(s.changes(false, false)).toMatchObject({ flash: { added: 'y' }, flashCleared: {} });
  });

  it("consumes only the flash it read, never the flash it added, when told 'read' (a GraphQL 2xx)", () => {
    const s = loaded({ a: 'data' }, { read: 1, viaGet: 2, checked: 3, untouched: 4, kept: 5 });
    s.flash('added', 'y');
    expect(s.getFlash('read')).toBe(1);
    expect(s.get('viaGet')).toBe(2);
    expect(s.get('a')).toBe('data');
    expect(s.has('checked')).toBe(true);
    expect(s.getFlash('kept')).toBe(5);
    s.keep(['kept']);
    expect(s.changes('read', false)).toMatchObject({
      flash: { added: 'y' },
      flashCleared: { read: '1', viaGet: '2' },
    });
    expect(s.changes('read', true).flash).toEqual({ added: 'y', checked: 3, untouched: 4, kept: 5 });
    expect(s.changes(true, false)).toMatchObject({
      flash: {},
      flashCleared: { read: '1', viaGet: '2', checked: '3', untouched: '4' },
    });
  });

  it('counts flashes() and @Flash() without a key as reading every flash key', () => {
    const s = loaded({}, { one: 1, two: 2 });
    s.flash('own', 3);
    expect(s.flashes()).toEqual({ one: 1, two: 2, own: 3 });
    expect(s.changes('read', false)).toMatchObject({
      flash: { own: 3 },
      flashCleared: { one: '1', two: '2' },
    });
    expect(loaded({}, { one: 1 }).changes('read', false).flashCleared).toEqual({});
  });

  it('keep() with keys and reflash() keep flash past a success', () => {
    const s = loaded({}, { a: 1, b: 2 });
    s.flash('c', 3);
    s.keep(['a', 'c']);
    expect(s.changes(true, false)).toMatchObject({ flash: { c: 3 }, flashCleared: { b: '2' } });
    s.keep([]);
    expect(s.changes(true, false)).toMatchObject({ flash: { c: 3 }, flashCleared: {} });
  });

  it('writes the whole session for a new record, with the flash that survives', () => {
    const s = loaded({ a: 1 }, { gone: 1, kept: 2 });
    s.keep(['kept']);
    s.flash('new', 3);
    expect(s.changes(true, true)).toEqual({
      clearData: true,
      clearFlash: true,
      set: { a: 1 },
      deleted: [],
      flash: { kept: 2 },
      flashCleared: {},
    });
    expect(s.snapshot(false)).toEqual({ data: { a: 1 }, flash: { new: 3, gone: 1, kept: 2 } });
  });

  it('reset() clears everything; reset(flashOnly) keeps data', () => {
    const s = loaded({ a: 1 }, { f: 1 });
    s.reset(true);
    expect(s.all()).toEqual({ a: 1 });
    expect(s.flashes()).toEqual({});
    expect(s.changes(false, false)).toMatchObject({ clearData: false, clearFlash: true });
    s.reset(false);
    expect(s.all()).toEqual({});
    expect(s.changes(false, false)).toMatchObject({ clearData: true, clearFlash: true });
  });

  it('regenerate() keeps the first id to delete and changes the id', () => {
    const s = loaded({ a: 1 });
    s.regenerate();
    s.regenerate();
    expect(s.previousId).toBe('old');
    expect(s.id).not.toBe('old');
    expect(s.hasStoredRecord).toBe(false);
    expect(s.all()).toEqual({ a: 1 });
  });

  it('a new session gets its id lazily and only once', () => {
    const s = new SessionState(undefined, undefined, ids);
    expect(s.isNew).toBe(true);
    expect(s.id).toBe(s.id);
    expect(s.modified).toBe(false);
  });

  it('knows an empty change set', () => {
    const s = loaded({ a: 1 });
    expect(isEmptyChanges(s.changes(false, false))).toBe(true);
    s.flash('x', 0);
    expect(isEmptyChanges(s.changes(false, false))).toBe(false);
    expect(isEmptyChanges(s.changes(true, false))).toBe(true);
  });

  it('rejects values JSON cannot keep, naming the key, and leaves the session unchanged', () => {
    const s = loaded({});
    expect(() => s.set('fn', () => 1)).toThrow(TypeError);
    expect(() => s.set('fn', () => 1)).toThrow(/'fn'/);
    expect(() => s.flash('big', 1n)).toThrow(/'big'.*BigInt/);
    expect(s.modified).toBe(false);
    expect(s.all()).toEqual({});
  });

  it.each([
    ['a value nested past the depth limit', () => deep(MAX_DEPTH + 1), /more than 64 levels deep/],
    [
      'a value nested 5 000 levels (JSON would overflow the stack in the store)',
      () => deep(5_000),
      /64 levels/,
    ],
    ['a toJSON() returning undefined', () => ({ toJSON: () => undefined }), /toJSON\(\) returned undefined/],
    ['a toJSON() returning a BigInt', () => ({ toJSON: () => 10n }), /toJSON\(\) gave: a BigInt/],
  ])('refuses %s in set(), flash() and pushFlash(), naming the key', (_label, make, message) => {
    const s = loaded({});
    expect(() => s.set('k', make())).toThrow(TypeError);
    expect(() => s.set('k', make())).toThrow(/session key 'k'/);
    expect(() => s.set('k', make())).toThrow(message);
    expect(() => s.flash('f', make())).toThrow(/session key 'f'/);
    expect(() => s.flash('f', make())).toThrow(message);
    expect(() => s.pushFlash('info', ['fine', make()])).toThrow(/session key 'info\[1\]'/);
    expect(() => s.pushFlash('info', ['fine', make()])).toThrow(message);
    expect(s.modified).toBe(false);
    expect(s.all()).toEqual({});
    expect(s.pullFlash()).toEqual({});
  });

  it('counts messages pushed and pulled again in one request as no change, and any other message as one', () => {
    const brought = { '\u0000messages': { other: ['kept'] } };
    const s = loaded({}, brought);
    s.pushFlash('info', ['passing']);
    expect(s.modified).toBe(true);
    expect(s.pullFlash('info')).toEqual(['passing']);
    expect(s.modified).toBe(false);
    expect(isEmptyChanges(s.changes(true, false))).toBe(true);
    expect(s.pullFlash('other')).toEqual(['kept']);
    expect(s.modified).toBe(true);
    const pushed = loaded({}, brought);
    pushed.pushFlash('other', ['more']);
    pushed.pullFlash('info');
    expect(pushed.modified).toBe(true);
    expect(pushed.pullFlash('other')).toEqual(['kept', 'more']);
    expect(pushed.modified).toBe(true);
  });

  it('keeps a Date and a value nested exactly to the depth limit', () => {
    const s = loaded({});
    s.set('at', new Date(0));
    s.set('deep', deep(MAX_DEPTH));
    s.flash('deep', deep(MAX_DEPTH));
    expect(JSON.parse(JSON.stringify(s.changes(false, false).set)).at).toBe('1970-01-01T00:00:00.000Z');
  });
});

/** `levels` objects inside one another. */
function deep(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}
