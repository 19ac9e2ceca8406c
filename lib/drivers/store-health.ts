import type { Logger } from '@nestjs/common';
import { redactedError, withoutIds } from '../core/session-tag.js';
import {
  SessionStoreMisconfiguredError,
  SessionStoreUnavailableError,
  errorMessage,
} from '../session.errors.js';
import type { SessionEventName, SessionEventSink } from '../events/session-event.js';

/** How long a store must answer with no failure before it counts as available again, in ms. */
export const RECOVERY_QUIET = 5_000;

/**
 * A store's outages as the log tells them: one "unavailable" line when it starts failing and one
 * "available again" once it has answered for RECOVERY_QUIET ms with no failure, so an outage is one
 * pair of lines however many requests fail, also while only part of the store fails (one node of a
 * Cluster) and requests succeed in between. A misconfiguration (the store explains it: a Cluster node
 * given as a single server, a wrong password) is not an outage: it is logged once and answered with a
 * SESSION_STORE_MISCONFIGURED error naming the fix. Neither the log nor the error answered carries the
 * session's id (a store's message may echo it: a path, an SQL error): each id of the failed call is
 * replaced by its tag (core/session-tag.ts). SessionEvents hears the same: 'store.down' with the first
 * line, 'store.up' with the second.
 */
export class StoreHealth {
  private down = false;
  private lastFailure = 0;
  private readonly explained = new Set<string>();

  constructor(
    private readonly name: string,
    private readonly logger: Logger,
    private readonly explain: (error: unknown) => string | undefined = () => undefined,
    private readonly now: () => number = () => Date.now(),
    private readonly events?: SessionEventSink,
  ) {}

  /** The error a failed store call on the sessions `ids` answers with. */
  failed(error: unknown, ids: readonly (string | undefined)[] = []): Error {
    const fix = this.explain(error);
    const told = withoutIds(errorMessage(error), ids);
    const cause = redactedError(error, ids);
    if (fix !== undefined) {
      if (!this.explained.has(fix)) {
        this.explained.add(fix);
        this.logger.error(`The '${this.name}' session store is misconfigured: ${fix} (${told})`);
      }
      return new SessionStoreMisconfiguredError(this.name, fix, cause);
    }
    this.lastFailure = this.now();
    if (!this.down) {
      this.down = true;
      this.logger.error(`The '${this.name}' session store is unavailable: ${told}`);
      this.report('store.down');
    }
    return new SessionStoreUnavailableError(this.name, cause);
  }

  /** A store call that answered. */
  ok(): void {
    if (this.down && this.now() - this.lastFailure >= RECOVERY_QUIET) {
      this.down = false;
      this.logger.log(`The '${this.name}' session store is available again`);
      this.report('store.up');
    }
  }

  private report(name: Extract<SessionEventName, `store.${string}`>): void {
    if (this.events?.listening) {
      this.events.emit({ name, driver: this.name, handle: undefined, userId: undefined, time: this.now() });
    }
  }
}
