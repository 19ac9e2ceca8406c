/**
 * A clock for `SessionModule.forRoot({ clock })` that moves only when told: idle timeouts, lifetimes,
 * tombstones and prunes follow it, so a test moves time on instead of faking timers or sleeping.
 * It is the function the module calls (ms since the epoch), with `now()` and `advance()` on it.
 */
export interface TestClock {
  (): number;
  /** The time it shows, in ms since the epoch. */
  now(): number;
  /** Moves it on by `ms` (0 or more; time never goes back) and returns the new time. */
  advance(ms: number): number;
}

/** A clock that starts at `start` (ms since the epoch, or a Date; default: the real time now). */
export function testClock(start: number | Date = Date.now()): TestClock {
  let time = start instanceof Date ? start.getTime() : start;
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw new TypeError('SessionTesting.clock(start): start must be a Date or a finite number of ms');
  }
  const now = () => time;
  const advance = (ms: number): number => {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`clock.advance(ms): ms must be a finite number, 0 or more (got ${String(ms)})`);
    }
    return (time += ms);
  };
  return Object.assign(() => time, { now, advance });
}
