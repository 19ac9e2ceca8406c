import { SessionState, type FlashConsumption } from '../core/session-state.js';
import type { SessionDriver } from '../drivers/session-driver.js';

/** One session waiting for its first use. */
interface Waiting {
  readonly name: string;
  readonly driver: SessionDriver;
  readonly cookie: string;
}

/**
 * A request's sessions that are loaded on first use (lifecycle.ts, step 3): those of the drivers that
 * can tell from the cookie alone what an unused session's commit needs (`unusedNeedsCommit`). A
 * request brings one or two such cookies: a list, not a map, costs the least to make and search.
 */
export class DeferredSessions {
  private waiting: Waiting[] = [];

  add(name: string, driver: SessionDriver, cookie: string): void {
    this.waiting.push({ name, driver, cookie });
  }

  get size(): number {
    return this.waiting.length;
  }

  /**
   * Loads a waiting session, which then no longer waits (a load that throws gives a failed state);
   * undefined when none of that name waits.
   */
  load(name: string, now: number): readonly [SessionDriver, SessionState] | undefined {
    const at = this.waiting.findIndex((w) => w.name === name);
    if (at === -1) return undefined;
    const { driver, cookie } = this.waiting[at];
    this.waiting.splice(at, 1);
    try {
      return [driver, driver.load(cookie, now) as SessionState];
    } catch (error) {
      return [driver, SessionState.failed(name, error)];
    }
  }

  /** The names of the waiting sessions whose commit does something although nothing used them. */
  due(consume: FlashConsumption, now: number, noTouch: boolean): string[] | undefined {
    let due: string[] | undefined;
    for (const { name, driver, cookie } of this.waiting)
      if (driver.unusedNeedsCommit!(cookie, consume, now, noTouch)) (due ??= []).push(name);
    return due;
  }
}
