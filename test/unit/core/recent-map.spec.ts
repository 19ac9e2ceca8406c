import { describe, expect, it } from '@jest/globals';
import { ownString, RecentMap } from '../../../lib/core/recent-map.js';

describe('RecentMap', () => {
  it('holds between half and twice half of the entries, the newest', () => {
    const map = new RecentMap<string, number>(3);
    for (let i = 0; i < 10; i++) map.set(`k${i}`, i);
    expect(map.size).toBeGreaterThanOrEqual(3);
    expect(map.size).toBeLessThanOrEqual(6);
    expect(map.get('k9')).toBe(9);
    expect(map.get('k0')).toBeUndefined();
  });

  it('keeps an entry that is used, however many others come and go', () => {
    const map = new RecentMap<string, number>(2);
    map.set('hot', 1);
    for (let i = 0; i < 50; i++) {
      map.set(`cold${i}`, i);
      expect(map.get('hot')).toBe(1);
    }
    expect(map.size).toBeLessThanOrEqual(4);
  });

  it('sets a key again without turning a generation over', () => {
    const map = new RecentMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('b', 3);
    expect(map.get('a')).toBe(1);
    expect(map.get('b')).toBe(3);
  });

  it('deletes a key from either generation', () => {
    const map = new RecentMap<string, number>(2);
    map.set('old', 1);
    map.set('other', 2);
    map.set('new', 3); // 'old' and 'other' are now the previous generation
    map.delete('old');
    map.delete('new');
    expect(map.get('old')).toBeUndefined();
    expect(map.get('new')).toBeUndefined();
    expect(map.get('other')).toBe(2);
  });
});

describe('ownString', () => {
  it('is an equal string', () => {
    const header = `a=1; sid=${'x'.repeat(40)}.${'y'.repeat(43)}; b=2`;
    const slice = header.slice(5, header.indexOf('; b'));
    expect(ownString(slice)).toBe(slice);
    expect(ownString('')).toBe('');
    expect(ownString('é\u2028"\\')).toBe('é\u2028"\\');
  });
});
