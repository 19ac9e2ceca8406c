import { expiresAt } from '../core/expiry.js';
import type { SessionRecord } from '../core/change-set.js';
import type { Policies } from '../core/policies.js';
import { currentScope, requestScope } from '../core/request-scope.js';
import type { DriverUsers } from '../drivers/session-driver.js';
import type { RevokedBy, SessionEventSink } from '../events/session-event.js';
import { SessionConfigError } from '../session.errors.js';

/** One of a user's sessions, as `SessionRegistry.list()` shows it: never its id, nothing that opens it. */
export interface SessionDevice {
  /** Names the session for revoke(); not a credential. */
  handle: string;
  /** It is the session of the request being handled. */
  current: boolean;
  /** When it was signed in. */
  createdAt: Date;
  /** Its last request (as the store last wrote it). */
  lastSeenAt: Date;
  /** When it ends unless it is used again (idle), or at the latest (lifetime). */
  expiresAt: Date;
  /** The policy it follows; undefined: the default one. */
  policy: string | undefined;
  label: string | undefined;
  userAgent: string | undefined;
  ip: string | undefined;
  /** The driver that keeps it. */
  driver: string;
}

/** @internal What the registry needs of the module (SessionManager gives it). */
export interface RegistryHost {
  /** The drivers that can list and revoke a user's sessions; throws when none can. */
  userDrivers(): Array<{ name: string; users: DriverUsers }>;
  handle(id: string): string;
  readonly policies: Policies;
  /** SessionEvents ('revoked') and the module's clock. */
  readonly events?: SessionEventSink;
  readonly now?: () => number;
}

interface Found {
  driver: string;
  users: DriverUsers;
  id: string;
  record: SessionRecord;
}

/**
 * A user's sessions, from anywhere (controllers, services, jobs, an admin console): list them, revoke
 * one, the others, or all. Lists name sessions by a handle, never by their id; `revoke(userId,
 * handle)` looks only within that user's sessions. Revoking retires the session: its next request
 * is anonymous, and a request in flight on it writes nothing (409). A store that is down rejects
 * with SessionStoreUnavailableError, never a silent "not revoked".
 */
export class SessionRegistry {
  /** @internal */
  constructor(private readonly host: RegistryHost) {}

  /** The user's live sessions, most recently signed in first; `current` marks the request's own. */
  async list(userId: string | number): Promise<SessionDevice[]> {
    const user = userIdOf(userId);
    const current = this.currentIds();
    const found = await this.find(user);
    return found
      .map(({ driver, id, record }) => this.device(driver, id, record, current.has(`${driver}\n${id}`)))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  /** How many live sessions the user has. */
  async count(userId: string | number): Promise<number> {
    return (await this.find(userIdOf(userId))).length;
  }

  /** Revokes the user's session with this handle; false when the user has no live session with it. */
  async revoke(userId: string | number, handle: string): Promise<boolean> {
    const user = userIdOf(userId);
    if (typeof handle !== 'string' || !/^[A-Za-z0-9_-]{16}$/.test(handle)) return false;
    const session = (await this.find(user)).find(({ id }) => this.host.handle(id) === handle);
    return session === undefined ? false : this.revokeOne(user, session, this.revoker(user));
  }

  /** In a request: revokes every session of its signed-in user but its own; how many went. */
  async revokeOthers(): Promise<number> {
    const scope = currentScope();
    const state = scope.existing(scope.defaultDriver);
    const user = state?.failure === undefined ? state?.user?.id : undefined;
    if (user === undefined) return 0;
    const current = this.currentIds();
    return this.revokeWhere(user, ({ driver, id }) => !current.has(`${driver}\n${id}`), 'user');
  }

  /** Revokes every session of the user (a password change, an admin's action); how many went. */
  async revokeAll(userId: string | number): Promise<number> {
    const user = userIdOf(userId);
    const by = this.revoker(user);
    let revoked = 0;
    for (const { users } of this.host.userDrivers())
      if (users.revokeAll) revoked += await users.revokeAll(user);
    return revoked + (await this.revokeWhere(user, ({ users }) => users.revokeAll === undefined, by));
  }

  private async revokeWhere(user: string, which: (found: Found) => boolean, by: RevokedBy): Promise<number> {
    const targets = (await this.find(user)).filter(which);
    let revoked = 0;
    // A few at a time: a user with thousands of sessions must not take every connection of a pool.
    for (let i = 0; i < targets.length; i += 16) {
      const done = await Promise.all(targets.slice(i, i + 16).map((t) => this.revokeOne(user, t, by)));
      revoked += done.filter(Boolean).length;
    }
    return revoked;
  }

  /** Revokes one session; once the store has retired it, SessionEvents hears who did. */
  private async revokeOne(user: string, found: Found, by: RevokedBy): Promise<boolean> {
    const revoked = await found.users.revoke(user, found.id);
    const { events, now = Date.now } = this.host;
    if (revoked && events?.listening) {
      const handle = this.host.handle(found.id);
      events.emit({ name: 'revoked', driver: found.driver, handle, userId: user, time: now(), by });
    }
    return revoked;
  }

  /** 'user' when the call comes from a request of that user's own session, else 'admin'. */
  private revoker(user: string): RevokedBy {
    const scope = requestScope.getStore();
    const state = scope?.existing(scope.defaultDriver);
    return state?.failure === undefined && state?.user?.id === user ? 'user' : 'admin';
  }

  private async find(user: string): Promise<Found[]> {
    const drivers = this.host.userDrivers();
    const lists = await Promise.all(drivers.map(({ users }) => users.list(user)));
    return lists.flatMap((list, i) =>
      list.map(({ id, record }) => ({ driver: drivers[i].name, users: drivers[i].users, id, record })),
    );
  }

  /** `driver\nid` of the sessions the request being handled has loaded, if any. */
  private currentIds(): Set<string> {
    const scope = requestScope.getStore();
    const ids = new Set<string>();
    if (scope === undefined) return ids;
    for (const { name } of this.host.userDrivers()) {
      const state = scope.existing(name);
      if (state !== undefined && state.failure === undefined && !state.isNew) ids.add(`${name}\n${state.id}`);
    }
    return ids;
  }

  private device(driver: string, id: string, record: SessionRecord, current: boolean): SessionDevice {
    const policy = this.host.policies.of(record.policy);
    const user = record.user;
    return {
      handle: this.host.handle(id),
      current,
      createdAt: new Date(user?.signedInAt ?? record.createdAt),
      lastSeenAt: new Date(record.lastActivity),
      expiresAt: new Date(expiresAt(policy, record.createdAt, record.lastActivity)),
      policy: record.policy,
      label: user?.label,
      userAgent: user?.userAgent,
      ip: user?.ip,
      driver,
    };
  }
}

function userIdOf(userId: string | number): string {
  const id = typeof userId === 'number' && Number.isFinite(userId) ? String(userId) : userId;
  if (typeof id !== 'string' || id === '' || id.length > 256) {
    throw new TypeError('a user id is a non-empty string (or a finite number) of at most 256 characters');
  }
  return id;
}

/** The error a registry call answers when no driver can keep the user index. */
export function usersUnsupported(driver: string, why: string): SessionConfigError {
  return new SessionConfigError('SESSION_USERS_UNSUPPORTED', `the '${driver}' driver ${why}`);
}
