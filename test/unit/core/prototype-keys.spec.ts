import { describe, expect, it } from '@jest/globals';
import { keyBag, putKey } from '../../../lib/core/json-value.js';
import { SessionState } from '../../../lib/core/session-state.js';
import { applyChanges, emptyRecord } from '../../../lib/stores/session-store.js';
import { changes, meta } from '../../support/fixtures.js';

const evil = { isAdmin: true };

describe("'__proto__' and friends are ordinary keys", () => {
  it('in SessionState: set, flash, all(), changes()', () => {
    const state = new SessionState(undefined, undefined, () => 'id');
    state.set('__proto__', evil);
    state.set('constructor', 1);
    state.flash('__proto__', evil);
    expect(state.get('isAdmin')).toBeUndefined();
    expect(state.has('isAdmin')).toBe(false);
    expect(state.get('__proto__')).toEqual(evil);
    expect(Object.keys(state.all())).toEqual(['__proto__', 'constructor']);
    const c = state.changes(false, false);
    expect(Object.keys(c.set)).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(c.flash)).toEqual(['__proto__']);
    const keys: string[] = [];
    for (const key in c.set) keys.push(key);
    expect(keys).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(state.changes(true, true).set)).toEqual(['__proto__', 'constructor']);
  });

  it('in snapshot(), the plain objects the cookie driver seals: own keys, written and read back as such', () => {
    const state = new SessionState('id', { data: {}, flash: {}, createdAt: 1, lastActivity: 1 }, () => 'n');
    state.set('__proto__', evil);
    state.set('constructor', 1);
    state.flash('__proto__', evil);
    const { data, flash } = state.snapshot(false);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.keys(data)).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(flash)).toEqual(['__proto__']);
    expect((data as { isAdmin?: boolean }).isAdmin).toBeUndefined();
    const json = JSON.stringify({ d: data, f: flash });
    expect(json).toBe(
      '{"d":{"__proto__":{"isAdmin":true},"constructor":1},"f":{"__proto__":{"isAdmin":true}}}',
    );
    const parsed = JSON.parse(json) as { d: Record<string, unknown>; f: Record<string, unknown> };
    const back = new SessionState(
      'id',
      { data: parsed.d, flash: parsed.f, createdAt: 1, lastActivity: 1 },
      () => 'n',
    );
    expect(back.get('isAdmin')).toBeUndefined();
    expect(back.get('__proto__')).toEqual(evil);
    expect(back.getFlash('__proto__')).toEqual(evil);
    // The flash a 2xx consumes is left out, '__proto__' as any other key.
    expect(Object.keys(state.snapshot(true).flash)).toEqual([]);
  });

  it('in a record parsed from JSON with a __proto__ key: nothing leaks from it', () => {
    const record = JSON.parse(
      '{"data":{"__proto__":{"isAdmin":true}},"flash":{"__proto__":{"x":1}},"createdAt":1,"lastActivity":1}',
    );
    const state = new SessionState('id', record, () => 'new');
    expect(state.get('isAdmin')).toBeUndefined();
    expect(state.all()).toEqual(JSON.parse('{"__proto__":{"isAdmin":true}}'));
    expect(Object.keys(state.flashes())).toEqual(['__proto__']);
    // Consuming the flash clears it by key, as any other.
    expect(Object.keys(state.changes(true, false).flashCleared)).toEqual(['__proto__']);
  });

  it('in applyChanges: a record from JSON keeps __proto__ as an own key, its prototype untouched', () => {
    const record = JSON.parse('{"data":{"a":1},"flash":{},"createdAt":1,"lastActivity":1}');
    const set = keyBag();
    set['__proto__'] = evil;
    const flash = keyBag();
    flash['__proto__'] = evil;
    const merged = applyChanges(record, changes({ set, flash }), meta(1));
    expect(Object.getPrototypeOf(merged.data)).toBe(Object.prototype);
    expect((merged.data as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(JSON.parse(JSON.stringify(merged.data))).toEqual(
      JSON.parse('{"a":1,"__proto__":{"isAdmin":true}}'),
    );
    expect(Object.keys(merged.flash)).toEqual(['__proto__']);
    const cleared = applyChanges(emptyRecord(meta(1)), changes({ clearData: true, set }), meta(1));
    expect(Object.keys(cleared.data)).toEqual(['__proto__']);
  });

  it('putKey and keyBag never touch a prototype', () => {
    const plain: Record<string, unknown> = {};
    putKey(plain, '__proto__', evil);
    putKey(plain, 'b', 2);
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
    expect(Object.keys(plain)).toEqual(['__proto__', 'b']);
    const bag = keyBag(plain);
    // Object.prototype is nowhere in its chain, and the chain holds nothing.
    expect(Object.getPrototypeOf(Object.getPrototypeOf(bag))).toBeNull();
    expect(Object.isFrozen(Object.getPrototypeOf(bag))).toBe(true);
    expect(Object.getOwnPropertyNames(Object.getPrototypeOf(bag))).toEqual([]);
    expect(Object.keys(bag)).toEqual(['__proto__', 'b']);
    expect((bag as { isAdmin?: unknown }).isAdmin).toBeUndefined();
    const fresh = keyBag();
    fresh['__proto__'] = evil;
    expect(Object.keys(fresh)).toEqual(['__proto__']);
    expect((fresh as { isAdmin?: unknown }).isAdmin).toBeUndefined();
    expect('constructor' in fresh).toBe(false);
  });
});
