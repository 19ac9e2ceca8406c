/**
 * What SessionEvents reports, and the small interface the rooms below it report through (drivers,
 * the registry, the lifecycle): they see only `SessionEventSink`, never the class that dispatches.
 * An event names a session by its public handle, never by its id, and carries none of its data.
 */

/** Fields every event carries. */
interface Base<N extends string> {
  readonly name: N;
  /** The driver that keeps the session (or whose store went down or came back). */
  readonly driver: string;
  /** The session's public handle (as `SessionRegistry.list()` shows it); undefined when there is none. */
  readonly handle: string | undefined;
  /** The user the session was bound to (signIn()), if any. */
  readonly userId: string | undefined;
  /** When it happened, on the module's clock (ms since the epoch). */
  readonly time: number;
}

/** Who ended a revoked session: the user (from one of their own requests), an admin, or users.maxPerUser. */
export type RevokedBy = 'user' | 'admin' | 'limit';

/** Every event, by name. */
export interface SessionEventMap {
  /** A new session was stored (the first change of an anonymous visitor, or signIn() on one). */
  created: Base<'created'>;
  /** regenerate() or signIn() gave the session a new id; `previousHandle` named it before. */
  regenerated: Base<'regenerated'> & { readonly previousHandle: string };
  /** signIn(): the session is now bound to `userId`. */
  signedIn: Base<'signedIn'> & { readonly policy: string | undefined };
  /** The user's binding ended: signOut(), destroy() of a signed-in session, or signIn() as someone else. */
  signedOut: Base<'signedOut'>;
  /** destroy() or signOut() ended a session that was stored. */
  destroyed: Base<'destroyed'>;
  /** SessionRegistry.revoke(), revokeOthers(), revokeAll(), or a sign-in past users.maxPerUser. */
  revoked: Base<'revoked'> & { readonly by: RevokedBy };
  /**
   * A session's time was up. Seen by a request that brought it (`seenBy: 'request'`, with its
   * `reason`), or by a prune that dropped expired records (`seenBy: 'prune'`: `count` records, no
   * handle, no reason: a prune does not read what it drops).
   */
  expired: Base<'expired'> & {
    readonly seenBy: 'request' | 'prune';
    readonly reason: 'idle' | 'lifetime' | undefined;
    readonly count: number;
  };
  /** A request's changes were refused because its session was retired under it (409 SESSION_CONFLICT). */
  conflict: Base<'conflict'>;
  /** A request's session was over its size limit and was not kept (500 SESSION_TOO_LARGE). */
  tooLarge: Base<'tooLarge'>;
  /** The driver's store started failing (the first 503 of an outage). */
  'store.down': Base<'store.down'>;
  /** The driver's store answers again (after 5 s without a failure). */
  'store.up': Base<'store.up'>;
}

export type SessionEventName = keyof SessionEventMap;
export type SessionEvent = SessionEventMap[SessionEventName];

/** Every event name, in the order of SessionEventMap. */
export const SESSION_EVENT_NAMES: readonly SessionEventName[] = [
  'created',
  'regenerated',
  'signedIn',
  'signedOut',
  'destroyed',
  'revoked',
  'expired',
  'conflict',
  'tooLarge',
  'store.down',
  'store.up',
];

/**
 * Where the library reports events. `listening` is read first, so nothing is made for an event when
 * nobody listens: no object, no closure, no promise.
 */
export interface SessionEventSink {
  readonly listening: boolean;
  emit(event: SessionEvent): void;
}
