import { SessionError, SessionStoreUnavailableError } from '../session.errors.js';
import type { SessionChanges, SessionRecord } from './change-set.js';
import { assertJsonValue, isEmptyBag, keyBag } from './json-value.js';

type Bag = Record<string, unknown>;
const has = Object.hasOwn;
/**
 * The flash key that holds messages pushed by level (pushFlash/req.flash): `{ level: [messages] }`.
 * A 2xx does not consume it; pullFlash() and reset({ flashOnly: true }) remove it.
 */
export const MESSAGES = '\u0000messages';
type Messages = Record<string, unknown[]>;
/**
 * What a response consumes of the flash: `true`, all the flash its request saw (HTTP's 2xx);
 * `'read'`, only the flash its request read that earlier requests left, never what it flashed
 * (a GraphQL 2xx); `false`, nothing.
 */
export type FlashConsumption = boolean | 'read';

/**
 * One driver's session for one request: data, the flash it was given and the flash it added, and a
 * record of every change. Pure: no I/O, no clock of its own.
 */
export class SessionState {
  private data: Bag;
  private flashIn: Bag;
  // Every bag has no prototype (keyBag): '__proto__' is an ordinary key, never a way to give one.
  private flashOut: Bag = keyBag();
  private setKeys: Bag = keyBag();
  private deletedKeys = new Set<string>();
  private clearData = false;
  private clearFlash = false;
  private keepAll = false;
  private kept = new Set<string>();
  /** Flash keys read (getFlash, get, @Flash); every key once flashes() ran. For the 'read' consumption. */
  private read: Set<string> | true | undefined;
  private touched = false;
  private failedWith: Error | undefined;
  private previous: string | undefined;
  private ended = false;
  private broughtRetired = false;
  /** The session was not found in the store (or the cookie did not verify): nothing to update, only to create. */
  readonly isNew: boolean;
  readonly createdAt: number | undefined;
  readonly lastActivity: number | undefined;

  constructor(
    private currentId: string | undefined,
    record: SessionRecord | undefined,
    private readonly newId: () => string,
  ) {
    this.isNew = record === undefined;
    this.data = keyBag(record?.data);
    this.flashIn = keyBag(record?.flash);
    this.createdAt = record?.createdAt;
    this.lastActivity = record?.lastActivity;
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

  /** Whether the request changed anything (set, delete, flash, reset, regenerate, destroy). */
  get modified(): boolean {
    return this.touched;
  }

  get(key: string): unknown {
    if (has(this.data, key)) return this.data[key];
    return this.getFlash(key);
  }

  /** Session data only (express-session's `req.session[key]`): the live value, so nested changes are seen. */
  getData(key: string): unknown {
    return has(this.data, key) ? this.data[key] : undefined;
  }

  hasData(key: string): boolean {
    return has(this.data, key);
  }

  dataKeys(): string[] {
    return Object.keys(this.data);
  }

  has(key: string): boolean {
    return has(this.data, key) || has(this.flashOut, key) || has(this.flashIn, key);
  }

  set(key: string, value: unknown): void {
    assertJsonValue(key, value);
    this.data[key] = value;
    this.setKeys[key] = value;
    this.deletedKeys.delete(key);
    this.touched = true;
  }

  delete(key: string): boolean {
    if (!has(this.data, key)) return false;
    delete this.data[key];
    delete this.setKeys[key];
    this.deletedKeys.add(key);
    this.touched = true;
    return true;
  }

  all(): Bag {
    return { ...this.data };
  }

  flash(key: string, value: unknown): void {
    assertJsonValue(key, value);
    this.flashOut[key] = value;
    this.touched = true;
  }

  getFlash(key: string): unknown {
    if (this.read === undefined) this.read = new Set([key]);
    else if (this.read !== true) this.read.add(key);
    if (has(this.flashOut, key)) return this.flashOut[key];
    return has(this.flashIn, key) ? this.flashIn[key] : undefined;
  }

  flashes(): Bag {
    this.read = true;
    const all = { ...this.flashIn, ...this.flashOut };
    delete all[MESSAGES];
    return all;
  }

  /** Appends messages to a level's list; the list's new length. */
  pushFlash(level: string, messages: readonly unknown[]): number {
    messages.forEach((message, i) => assertJsonValue(`${level}[${i}]`, message));
    const all = this.messages();
    const list = [...(all[level] ?? []), ...messages];
    this.setMessages({ ...all, [level]: list });
    return list.length;
  }

  /** A level's messages (all levels' when none is named), removed from the session. */
  pullFlash(level: string): unknown[];
  pullFlash(): Messages;
  pullFlash(level?: string): unknown[] | Messages {
    const all = this.messages();
    if (level === undefined) {
      if (Object.keys(all).length > 0) this.setMessages({});
      return all;
    }
    const list = all[level] ?? [];
    if (has(all, level)) {
      const rest = { ...all };
      delete rest[level];
      this.setMessages(rest);
    }
    return list;
  }

  private messages(): Messages {
    const value = this.getFlash(MESSAGES);
    return typeof value === 'object' && value !== null ? (value as Messages) : {};
  }

  private setMessages(all: Messages): void {
    this.flashOut[MESSAGES] = all;
    this.touched = true;
  }

  /** Keep the flash this request saw (all, or these keys) past one more successful response. */
  keep(keys: readonly string[]): void {
    if (keys.length === 0) this.keepAll = true;
    else for (const key of keys) this.kept.add(key);
  }

  reset(flashOnly: boolean): void {
    if (!flashOnly) {
      this.data = keyBag();
      this.setKeys = keyBag();
      this.deletedKeys.clear();
      this.clearData = true;
    }
    this.flashIn = keyBag();
    this.flashOut = keyBag();
    this.clearFlash = true;
    this.touched = true;
  }

  regenerate(): void {
    if (!this.isNew && this.previous === undefined) this.previous = this.currentId;
    this.currentId = this.newId();
    this.touched = true;
  }

  /**
   * Ends the session: its record is deleted and its cookie cleared at commit. Anything set or
   * flashed afterwards in the same request goes to a fresh session with a new id.
   */
  destroy(): void {
    this.reset(false);
    if (!this.isNew && this.previous === undefined) this.previous = this.currentId;
    this.currentId = undefined;
    this.ended = true;
  }

  /** Whether the store holds a record under an id this request must keep writing to. */
  get hasStoredRecord(): boolean {
    return !this.isNew && this.previous === undefined;
  }

  /**
   * The change set to commit. `consume` (FlashConsumption) is what the response consumes of the
   * flash this request saw (given or flashed), except what it kept. `full` writes the whole session
   * (a new record: new or regenerated session).
   */
  changes(consume: FlashConsumption, full: boolean): SessionChanges {
    const kept = (key: string) => key === MESSAGES || this.keepAll || this.kept.has(key);
    const unread = (key: string) => this.read !== true && !this.read?.has(key);
    const keepOut = (key: string) => consume !== true || kept(key);
    const keep = (key: string) => !consume || kept(key) || (consume === 'read' && unread(key));
    const flash: Bag = keyBag();
    for (const key in this.flashOut) if (keepOut(key)) flash[key] = this.flashOut[key];
    // Every message pulled: the key goes, unless another request pushed meanwhile (cleared by value).
    const messages = flash[MESSAGES];
    const pulledAll = typeof messages === 'object' && messages !== null && isEmptyBag(messages);
    if (pulledAll) delete flash[MESSAGES];
    const flashCleared = keyBag() as Record<string, string>;
    if (full) {
      for (const key in this.flashIn) {
        if (keep(key) && !has(flash, key) && !(key === MESSAGES && pulledAll)) flash[key] = this.flashIn[key];
      }
      return { clearData: true, clearFlash: true, set: keyBag(this.data), deleted: [], flash, flashCleared };
    }
    if (consume) {
      for (const key in this.flashIn) if (!keep(key)) flashCleared[key] = JSON.stringify(this.flashIn[key]);
    }
    if (pulledAll && has(this.flashIn, MESSAGES))
      flashCleared[MESSAGES] = JSON.stringify(this.flashIn[MESSAGES]);
    return {
      clearData: this.clearData,
      clearFlash: this.clearFlash,
      set: this.setKeys,
      deleted: [...this.deletedKeys],
      flash,
      flashCleared,
    };
  }

  /** The whole session as the store would hold it after committing `changes(consume, true)`. */
  snapshot(consume: FlashConsumption): { data: Bag; flash: Bag } {
    const c = this.changes(consume, true);
    return { data: c.set, flash: c.flash };
  }
}
