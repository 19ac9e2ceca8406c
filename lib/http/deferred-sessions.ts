import { SessionState, type FlashConsumption } from '../core/session-state.js';
import type { SessionDriver } from '../drivers/session-driver.js';

/**
 * A request's sessions that are loaded on first use (lifecycle.ts, step 3): those of the drivers that
 * can tell from the cookie alone what an unused session's commit needs (`unusedNeedsCommit`).
 */
export class DeferredSessions {
  private readonly waiting = new Map<string, readonly [SessionDriver, string]>();

  add(name: string, driver: SessionDriver, cookie: string): void {
    this.waiting.set(name, [driver, cookie]);
  }

  has(name: string): boolean {
    return this.waiting.has(name);
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Loads a waiting session (a load that throws gives a failed state); it no longer waits. */
  load(name: string, now: number): readonly [SessionDriver, SessionState] {
    const [driver, cookie] = this.waiting.get(name)!;
    this.waiting.delete(name);
    try {
      return [driver, driver.load(cookie, now) as SessionState];
    } catch (error) {
      return [driver, SessionState.failed(name, error)];
    }
  }

  /** The waiting sessions whose commit does something although nothing used them. */
  due(consume: FlashConsumption, now: number, noTouch: boolean): string[] {
    const due: string[] = [];
    for (const [name, [driver, cookie]] of this.waiting)
      if (driver.unusedNeedsCommit!(cookie, consume, now, noTouch)) due.push(name);
    return due;
  }
}
