/**
 * Moving users from another session library (migrateFrom), one request at a time, none signed out.
 *
 * A request that brings an old cookie that verifies, and no nest-session cookie, is migrated while
 * the session loads (lifecycle step 3), before any middleware or guard:
 *  1. The new session's id is derived from the old one with the secret (HMAC), so every request
 *     bringing the same old cookie, in this process or another, lands on the same new session.
 *  2. The first of them in this process does the work; the others that arrive meanwhile wait for it
 *     (one flight per old session): if the new id was retired (signed out, regenerated), nothing
 *     moves; if it holds a session moved less than a minute ago, or one whose old record is still
 *     there, that session is used; otherwise the old session is read once and its data written
 *     under the new id. Then each request loads the new session as any other. With the cookie
 *     driver there is no new id to share: each request seals the data it was given.
 *  3. At commit (step 6): the new cookie is set, the old cookie cleared, and the old record
 *     destroyed unless destroyOld is false. A failure to destroy is logged and changes nothing else:
 *     the new session is already kept, and the next request that brings the old cookie destroys it.
 * An old store that cannot be read is a 503 for the routes that use the session (the old cookie is
 * kept, so a later request moves it); a session too large for maxSize (or the cookie driver's 4 KB)
 * stays where it is, logged, and the request starts a fresh session.
 */
import type { Logger } from '@nestjs/common';
import { serialize } from 'cookie';
import { createHmac, hkdfSync } from 'node:crypto';
import { expiresAt } from '../core/expiry.js';
import { MESSAGES, SessionState } from '../core/session-state.js';
import { newSessionId, type Keyring } from '../crypto/keyring.js';
import type { SessionCookie, SessionDriver } from '../drivers/session-driver.js';
import { SessionStoreUnavailableError, SessionTooLargeError, errorMessage } from '../session.errors.js';
import type { SessionChanges, SessionStore } from '../stores/session-store.js';
import type { ResolvedOldSource } from './migration.options.js';
import { movedData, verifyOldCookie, type MovedData, type OldSession } from './old-sessions.js';

/** What the first request that brought an old session decided for it. */
type Outcome =
  /** A store driver's new session holds the data under this id. */
  | { kind: 'moved'; id: string }
  /** The cookie driver: each request starts a session with this data. */
  | { kind: 'data'; moved: MovedData }
  /** Nothing to move; `destroy`: an old record may still be there. */
  | { kind: 'none'; destroy: boolean };

/**
 * How long after a session moved the old cookie still leads to it without the old record: long
 * enough for a page's parallel requests and a retry after a lost response, short enough that a copy
 * of the old cookie is soon worth nothing.
 */
const MOVED_GRACE = 60_000;
const NONE: Outcome = Object.freeze({ kind: 'none', destroy: false });

/** Bytes of JSON past which data cannot move into the cookie driver's 4096-byte cookie once sealed. */
const COOKIE_DRIVER_MAX_JSON = 2800;

/** What a migration needs of the module's options. */
export interface MigrationSettings {
  secrets: readonly string[];
  idleTimeout: number;
  lifetime: number;
  migrateFrom: readonly ResolvedOldSource[];
}

export class Migration {
  /** The work under way per old session, in this process. */
  private readonly flights = new Map<string, Promise<Outcome>>();
  private readonly idKey: Buffer;
  private down = false;

  constructor(
    private readonly settings: MigrationSettings,
    private readonly keyring: Keyring,
    /** The default driver, which receives the migrated sessions. */
    readonly driver: () => SessionDriver,
    private readonly logger: Logger,
  ) {
    const info = 'nest-session/v1 migrated session id';
    this.idKey = Buffer.from(hkdfSync('sha256', settings.secrets[0], Buffer.alloc(0), info, 32));
  }

  /** Step 3, for a request without nest-session's cookie: undefined unless an old cookie verifies. */
  start(cookies: Record<string, string | undefined>, now: number): MigratingRequest | undefined {
    for (const source of this.settings.migrateFrom) {
      if (cookies[source.name] === undefined) continue;
      const old = verifyOldCookie(source, cookies);
      if (old !== undefined) return new MigratingRequest(this, source, old, now);
    }
    return undefined;
  }

  /** @internal the decision for an old session: joins the one under way for it, or starts it. */
  flight(source: ResolvedOldSource, old: OldSession, store: SessionStore | undefined, now: number) {
    const key = `${source.library}\0${old.key}`;
    let flight = this.flights.get(key);
    if (flight === undefined) {
      flight = this.move(source, old, store, now).finally(() => this.flights.delete(key));
      this.flights.set(key, flight);
    }
    return flight;
  }

  private async move(
    source: ResolvedOldSource,
    old: OldSession,
    store: SessionStore | undefined,
    now: number,
  ): Promise<Outcome> {
    if (store === undefined) {
      const session = await old.read();
      const moved = movedData(session, now);
      if (moved === undefined) return { kind: 'none', destroy: session !== undefined };
      const size = Buffer.byteLength(JSON.stringify(moved));
      if (size > COOKIE_DRIVER_MAX_JSON) {
        throw new SessionTooLargeError(
          size,
          COOKIE_DRIVER_MAX_JSON,
          'moved session',
          'use a server-side driver',
        );
      }
      return { kind: 'data', moved };
    }
    const id = createHmac('sha256', this.idKey).update(`${source.library}\0${old.key}`).digest('base64url');
    const current = await store.get(id);
    if (current === 'retired') return { kind: 'none', destroy: true };
    // Moved a moment ago (a page's parallel requests, a retry): no need to ask the old store.
    if (current !== undefined && now - current.createdAt <= MOVED_GRACE) return { kind: 'moved', id };
    const session = await old.read();
    // Moved earlier: the old cookie still names it only while the old record is there.
    if (current !== undefined) return session === undefined ? NONE : { kind: 'moved', id };
    const moved = movedData(session, now);
    if (moved === undefined) return { kind: 'none', destroy: session !== undefined };
    const meta = {
      createdAt: now,
      lastActivity: now,
      expiresAt: expiresAt(this.settings, now, now),
      create: true,
    };
    await store.apply(id, wholeSession(moved), meta);
    return { kind: 'moved', id };
  }

  /** @internal a store that answered again after an outage. */
  up(): void {
    this.down = false;
  }

  /** @internal an old (or new) store that failed: a 503 for the request, logged once per outage. */
  unavailable(source: ResolvedOldSource, error: unknown): Error {
    if (!this.down) {
      this.down = true;
      this.logger.error(
        `migrateFrom.${source.library}: a session could not be moved (${errorMessage(error)}); ` +
          'requests that bring an old cookie answer 503 until the store answers again',
      );
    }
    return new SessionStoreUnavailableError(`migrateFrom.${source.library}`, error);
  }

  /** @internal a session that cannot move: it stays in the old store. */
  tooLarge(source: ResolvedOldSource, error: SessionTooLargeError): void {
    this.logger.error(`migrateFrom.${source.library}: a session stays where it is: ${error.message}`);
  }

  /** @internal destroys an old record; a failure is logged, never the request's. */
  destroyOld(source: ResolvedOldSource, destroy: () => Promise<unknown>): Promise<void> {
    return destroy().then(
      () => undefined,
      (error: unknown) =>
        this.logger.warn(
          `migrateFrom.${source.library}: an old session moved, but its record could not be destroyed ` +
            `(${errorMessage(error)}); it stays until the old store expires it`,
        ),
    );
  }

  /** @internal the cookie that names a moved session. */
  cookieFor(driver: SessionDriver, id: string, createdAt: number): SessionCookie & { value: string } {
    return { value: this.keyring.sign(driver.cookieName, id), expires: createdAt + this.settings.lifetime };
  }
}

/** One request that brought an old cookie: its load, and what its commit adds. */
export class MigratingRequest {
  /** The default driver's state for this request (step 3 awaits it). */
  readonly loaded: Promise<SessionState>;
  private outcome: Outcome | 'failed' | 'stays' | undefined;
  private driverName: string | undefined;

  constructor(
    private readonly migration: Migration,
    private readonly source: ResolvedOldSource,
    private readonly old: OldSession,
    private readonly now: number,
  ) {
    // A load never fails the request: whatever goes wrong is a failed state (503 where it is used).
    this.loaded = this.load().catch((error: unknown) => {
      this.outcome = 'failed';
      return SessionState.failed(this.driverName ?? 'session', error);
    });
  }

  private async load(): Promise<SessionState> {
    let driver: SessionDriver;
    let outcome: Outcome;
    try {
      driver = this.migration.driver();
      this.driverName = driver.name;
      outcome = await this.migration.flight(this.source, this.old, driver.store, this.now);
      this.migration.up();
    } catch (error) {
      if (error instanceof SessionTooLargeError) {
        this.migration.tooLarge(this.source, error);
        this.outcome = 'stays';
        return new SessionState(undefined, undefined, newSessionId);
      }
      this.outcome = 'failed';
      return SessionState.failed(
        this.driverName ?? 'session',
        this.migration.unavailable(this.source, error),
      );
    }
    this.outcome = outcome;
    if (outcome.kind === 'moved') {
      return driver.load(this.migration.cookieFor(driver, outcome.id, this.now).value, this.now);
    }
    const state = new SessionState(undefined, undefined, newSessionId);
    if (outcome.kind === 'data') {
      const { data, messages } = outcome.moved;
      for (const key of Object.keys(data)) state.set(key, data[key]);
      for (const level of Object.keys(messages ?? {})) state.pushFlash(level, messages![level]);
    }
    return state;
  }

  /**
   * Step 6, for a driver whose commit set no cookie: the moved session's, while the request kept it
   * (not regenerated, destroyed or retired meanwhile).
   */
  cookie(driver: SessionDriver, state: SessionState): SessionCookie | undefined {
    const outcome = this.outcome;
    if (typeof outcome !== 'object' || outcome.kind !== 'moved' || driver.name !== this.driverName) {
      return undefined;
    }
    if (state.isNew || state.previousId !== undefined || state.destroyed || state.id !== outcome.id) {
      return undefined;
    }
    return this.migration.cookieFor(driver, outcome.id, state.createdAt ?? this.now);
  }

  /** Step 6: the old cookies cleared and the old record destroyed, once the old session is settled. */
  commit(): { cookies: string[]; pending: Promise<void> | undefined } {
    const outcome = this.outcome;
    if (typeof outcome !== 'object') return { cookies: [], pending: undefined };
    const { name, library } = this.source;
    const names = library === 'cookieSession' ? [name, `${name}.sig`] : [name];
    const destroy = outcome.kind !== 'none' || outcome.destroy ? this.old.destroy : undefined;
    return {
      cookies: names.map((n) => this.clear(n)),
      pending: destroy === undefined ? undefined : this.migration.destroyOld(this.source, destroy),
    };
  }

  private clear(name: string): string {
    const { path, domain } = this.source;
    const secure = name.startsWith('__Secure-') || name.startsWith('__Host-');
    return serialize(name, '', {
      path,
      domain,
      expires: new Date(0),
      maxAge: 0,
      secure: secure || undefined,
    });
  }
}

/** A change set that writes the moved data as a whole session. */
function wholeSession({ data, messages }: MovedData): SessionChanges {
  return {
    clearData: true,
    clearFlash: true,
    set: data,
    deleted: [],
    flash: messages === undefined ? {} : { [MESSAGES]: messages },
    flashCleared: {},
  };
}
