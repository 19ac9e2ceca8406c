import { SessionError, SessionStoreUnavailableError } from '../session.errors.js';
import type { SessionChanges, SessionRecord, SessionUser } from './change-set.js';
import { SessionBags } from './session-bags.js';

export { MESSAGES } from './flash-messages.js';
export { type FlashConsumption } from './session-bags.js';

/**
 * One driver's session for one request: its id and what happens to it (regenerate, destroy, a store
 * that failed, a retired id), over the data, flash and change set of SessionBags. Pure: no I/O, no
 * clock of its own.
 */
export class SessionState extends SessionBags {
  private failedWith: Error | undefined;
  private previous: string | undefined;
  private ended = false;
  /** The user the session is bound to, and its policy; `*Changed` when this request changed them. */
  private boundUser: SessionUser | undefined;
  private policyName: string | undefined;
  private userChanged = false;
  private policyChanged = false;
  /** The session was not found in the store (or the cookie did not verify): nothing to update, only to create. */
  readonly isNew: boolean;
  readonly createdAt: number | undefined;
  readonly lastActivity: number | undefined;
  /** The user the session was bound to as it was loaded (SessionEvents tells sign-outs by it). */
  readonly loadedUser: SessionUser | undefined;

  constructor(
    private currentId: string | undefined,
    record: SessionRecord | undefined,
    private readonly newId: () => string,
  ) {
    super(record);
    this.boundUser = record?.user;
    this.policyName = record?.policy;
    this.isNew = record === undefined;
    this.createdAt = record?.createdAt;
    this.lastActivity = record?.lastActivity;
    this.loadedUser = record?.user;
  }

  /**
   * A session whose store could not be read: every use throws the error, a 503 unless it is already
   * a SessionError that answers for itself (a misconfigured store's 500).
   */
  static failed(driver: string, error: unknown): SessionState {
    const state = new SessionState(undefined, undefined, () => '');
    state.failedWith =
      error instanceof SessionError ? error : new SessionStoreUnavailableError(driver, error);
    return state;
  }

  /** An empty session for a request that brought a retired id. */
  static retired(newId: () => string): SessionState {
    const state = new SessionState(undefined, undefined, newId);
    state.broughtRetired = true;
    return state;
  }

  /** The store could not be read: every use of this session throws it (a 503), the rest of the app works. */
  get failure(): Error | undefined {
    return this.failedWith;
  }

  /** Set by regenerate() and destroy(): the id the store must retire at commit. */
  get previousId(): string | undefined {
    return this.previous;
  }

  /** destroy() was called: the record goes and the cookie is cleared at commit. */
  get destroyed(): boolean {
    return this.ended;
  }

  /** The request brought an id that was retired (regenerated or destroyed): nothing may be written under it. */
  get retired(): boolean {
    return this.broughtRetired;
  }

  /** The session id; a new session gets its id on first use. */
  get id(): string {
    return (this.currentId ??= this.newId());
  }

  regenerate(): void {
    this.writable(true);
    if (!this.isNew && this.previous === undefined) this.previous = this.currentId;
    this.currentId = this.newId();
    this.touched = true;
  }

  /**
   * Ends the session: its record is deleted and its cookie cleared at commit. Anything set or
   * flashed afterwards in the same request goes to a fresh session with a new id.
   */
  destroy(): void {
    this.writable(true);
    this.reset(false);
    // What comes after destroy() is a fresh, anonymous session.
    this.boundUser = this.policyName = undefined;
    this.userChanged = this.policyChanged = true;
    if (!this.isNew && this.previous === undefined) this.previous = this.currentId;
    this.currentId = undefined;
    this.ended = true;
  }

  /** The user the session is bound to (signIn()), if any. */
  get user(): SessionUser | undefined {
    return this.boundUser;
  }

  /** The policy the session follows; undefined: the default one. */
  get policy(): string | undefined {
    return this.policyName;
  }

  /** Whether this request changed the policy (the cookie's expiry follows it). */
  get policyChangedHere(): boolean {
    return this.policyChanged;
  }

  /** Binds the session to a user (undefined: unbinds it), in this request's change set. */
  bind(user: SessionUser | undefined): void {
    this.writable(true);
    this.boundUser = user;
    this.userChanged = this.touched = true;
  }

  /** The policy the session follows from now on (undefined: the default one). */
  usePolicy(name: string | undefined): void {
    this.writable(true);
    this.policyName = name;
    this.policyChanged = this.touched = true;
  }

  override committed(refusal: string | undefined, fixed?: string): void {
    super.committed(refusal, fixed);
    if (refusal === undefined) this.userChanged = this.policyChanged = false;
  }

  /** A whole record carries the user and policy it has (none: absent); a change set what changed. */
  protected override binding(full: boolean): Pick<SessionChanges, 'user' | 'policy'> {
    if (full) return { user: this.boundUser, policy: this.policyName };
    return {
      user: this.userChanged ? (this.boundUser ?? null) : undefined,
      policy: this.policyChanged ? (this.policyName ?? null) : undefined,
    };
  }

  /**
   * regenerate() and bind to a user, in one commit: a new id, the data kept, the old id retired, the
   * binding (and the policy, when given) in the same change set.
   */
  signIn(user: SessionUser, policy?: string | null): void {
    this.regenerate();
    this.bind(user);
    if (policy !== undefined) this.usePolicy(policy ?? undefined);
  }

  /** Whether the store holds a record under an id this request must keep writing to. */
  get hasStoredRecord(): boolean {
    return !this.isNew && this.previous === undefined;
  }
}
