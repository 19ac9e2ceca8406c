import { describe, expect, it } from '@jest/globals';
import { thenTell, type Ended } from '../../../lib/core/sessions-ended.js';

describe('thenTell', () => {
  const ended: Ended[] = [
    ['memory', 'a'],
    ['cookie', 'b'],
  ];

  it('tells at once when there is no store work to wait for', () => {
    const told: Ended[] = [];
    expect(thenTell(undefined, ended, (driver, id) => told.push([driver, id]))).toBeUndefined();
    expect(told).toEqual(ended);
  });

  it('tells once the store work is kept, and keeps its value', async () => {
    const told: Ended[] = [];
    let keep!: (value: string) => void;
    const work = thenTell(new Promise<string>((resolve) => (keep = resolve)), ended, (driver, id) =>
      told.push([driver, id]),
    );
    expect(told).toEqual([]);
    keep('kept');
    expect(await work).toBe('kept');
    expect(told).toEqual(ended);
  });

  it('tells nothing when the store work fails: those sessions did not end', async () => {
    const told: Ended[] = [];
    const work = thenTell(Promise.reject(new Error('down')), ended, (driver, id) => told.push([driver, id]));
    await expect(work).rejects.toThrow('down');
    expect(told).toEqual([]);
  });

  it('hands the work back untouched when nobody listens or nothing ended', () => {
    const work = Promise.resolve();
    expect(thenTell(work, ended, undefined)).toBe(work);
    expect(thenTell(work, undefined, () => {})).toBe(work);
  });
});
