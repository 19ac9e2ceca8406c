import { describe, expect, it } from '@jest/globals';
import { SessionTesting } from 'nest-session/testing';

describe('SessionTesting.clock()', () => {
  it('is the function forRoot({ clock }) calls, and moves only with advance()', () => {
    const clock = SessionTesting.clock(Date.UTC(2030, 0, 1));
    expect(clock()).toBe(Date.UTC(2030, 0, 1));
    expect(clock.now()).toBe(clock());
    expect(clock.advance(2 * 60 * 60 * 1000)).toBe(Date.UTC(2030, 0, 1, 2));
    expect(clock()).toBe(Date.UTC(2030, 0, 1, 2));
    expect(clock.advance(0)).toBe(Date.UTC(2030, 0, 1, 2));
  });

  it('starts at a Date, or at the real time now', () => {
    expect(SessionTesting.clock(new Date('2031-05-06T07:08:09Z')).now()).toBe(Date.UTC(2031, 4, 6, 7, 8, 9));
    const before = Date.now();
    const clock = SessionTesting.clock();
    expect(clock.now()).toBeGreaterThanOrEqual(before);
    expect(clock.now()).toBeLessThanOrEqual(Date.now());
  });

  it('never goes back, and takes only finite times', () => {
    const clock = SessionTesting.clock(1000);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow('ms must be a finite number, 0 or more (got NaN)');
    expect(() => clock.advance(Infinity)).toThrow(RangeError);
    expect(clock.now()).toBe(1000);
    expect(() => SessionTesting.clock(new Date('not a date'))).toThrow(TypeError);
  });
});
