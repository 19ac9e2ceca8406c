import { SessionReadOnlyError } from '../session.errors.js';
import type { SessionChanges, SessionRecord } from './change-set.js';
import { MESSAGES, noMessages, sameMessages, type Messages } from './flash-messages.js';
import { assertJsonValue, jsonBag, keyBag, putKey } from './json-value.js';

type Bag = Record<string, unknown>;
const has = Object.hasOwn;
/**
 * What a response consumes of the flash: `true`, all the flash its request saw (HTTP's 2xx);
 * `'read'`, only the flash its request read that earlier requests left, never what it flashed
 * (a GraphQL 2xx); `false`, nothing.
 */
export type FlashConsumption = boolean | 'read';
const NO_BINDING = Object.freeze({ user: undefined, policy: undefined });
const NO_KEYS = Object.freeze([]) as unknown as string[]; // every change set that deletes no key

/**
 * A session's data and flash for one request, and a record of every change made to them: the change
 * set the commit writes (SessionState adds the id and what happens to it). Pure: no I/O, no clock.
 */
export class SessionBags {
  protected data: Bag;
  protected flashIn: Bag;
  // Every bag has no prototype (keyBag): '__proto__' is an ordinary key, never a way to give one.
  private flashOut: Bag = keyBag();
  private setKeys: Bag = keyBag();
  private deletedKeys: Set<string> | undefined; // made with the first delete: most requests delete nothing
  private clearData = false;
  private clearFlash = false;
  private keepAll = false;
  private kept: Set<string> | undefined; // made with the first keepFlash(keys)
  /** Flash keys read (getFlash, get, @Flash); every key once flashes() ran. For the 'read' consumption. */
  private read: Set<string> | true | undefined;
  protected touched = false;
  /** The request brought an id that was retired: every change attempted counts, to be refused at commit. */
  protected broughtRetired = false;
  /** After the commit: undefined while changes are taken (before it, or late), else why they are refused. */
  private refusal: string | undefined;
  private lateMode = false; // changes now go to a late commit: the id cannot change any more
  /** Why the id cannot change any more, when it is not the response's head (a WebSocket message). */
  private fixedBecause: string | undefined;

  constructor(record: SessionRecord | undefined) {
    this.data = keyBag(record?.data);
    this.flashIn = keyBag(record?.flash);
  }

  /** Committed, and what changes now is kept by a late commit. */
  get acceptsLate(): boolean {
    return this.lateMode && this.refusal === undefined;
  }

  /** Whether the request changed anything (messages pulled again as they were pushed do not count). */
  get modified(): boolean {
    return this.touched || has(this.flashOut, MESSAGES);
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
    this.writable();
    assertJsonValue(key, value);
    this.data[key] = value;
    this.setKeys[key] = value;
    this.deletedKeys?.delete(key);
    this.touched = true;
  }

  delete(key: string): boolean {
    this.writable();
    if (!has(this.data, key)) {
      // Nothing to delete here, but on a retired id the session the client meant is elsewhere:
      // acknowledging the delete would be a lie, so it counts as a change (refused at commit).
      if (this.broughtRetired) this.touched = true;
      return false;
    }
    delete this.data[key];
    delete this.setKeys[key];
    (this.deletedKeys ??= new Set()).add(key);
    this.touched = true;
    return true;
  }

  all(): Bag {
    return { ...this.data };
  }

  flash(key: string, value: unknown): void {
    this.writable();
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
    this.writable();
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
    this.writable();
    if (this.broughtRetired) this.touched = true; // as delete(): nothing here to pull
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

  /** The messages from now on: none to write when they are the ones the session brought (pushed, then pulled). */
  private setMessages(all: Messages): void {
    if (sameMessages(all, this.flashIn[MESSAGES])) delete this.flashOut[MESSAGES];
    else this.flashOut[MESSAGES] = all;
  }

  /** Keep the flash this request saw (all, or these keys) past one more successful response. */
  keep(keys: readonly string[]): void {
    this.writable(true);
    if (keys.length === 0) this.keepAll = true;
    else for (const key of keys) (this.kept ??= new Set()).add(key);
  }

  reset(flashOnly: boolean): void {
    this.writable();
    if (!flashOnly) {
      this.data = keyBag();
      this.setKeys = keyBag();
      this.deletedKeys = undefined;
      this.clearData = true;
    }
    [this.flashIn, this.flashOut] = [keyBag(), keyBag()];
    this.clearFlash = this.touched = true;
  }

  /**
   * Called once the commit is decided (the response's head is going out). `refusal` undefined: the
   * driver keeps later changes with a late commit before the response ends, so from now on the
   * change set holds only what comes after this point, and the id can no longer change. Otherwise
   * every later change throws SESSION_READ_ONLY with that reason. `fixed` says why the id can no
   * longer change, where that is not the response's head (kept by the commits that follow).
   */
  committed(refusal: string | undefined, fixed?: string): void {
    if (refusal !== undefined) return void (this.refusal = refusal);
    this.lateMode = true;
    this.fixedBecause ??= fixed;
    this.flashIn = Object.assign(this.flashIn, this.flashOut);
    this.flashOut = keyBag();
    this.setKeys = keyBag();
    this.deletedKeys = undefined;
    this.clearData = this.clearFlash = this.keepAll = this.touched = false;
    this.kept = undefined;
  }

  /** Throws SESSION_READ_ONLY when a change can no longer be kept; `changesId` for what would change the id or the flash rule. */
  protected writable(changesId = false): void {
    if (this.refusal !== undefined) throw new SessionReadOnlyError(this.refusal);
    if (changesId && this.lateMode) {
      throw new SessionReadOnlyError(
        this.fixedBecause ??
          "the response's head, and the session cookie with it, has been sent: the session's id, user, policy and flash rule can no longer change",
      );
    }
  }

  /**
   * The change set to commit. `consume` (FlashConsumption) is what the response consumes of the
   * flash this request saw (given or flashed), except what it kept.
   * `full` writes the whole session (a new record: new or regenerated session).
   */
  changes(consume: FlashConsumption, full: boolean): SessionChanges {
    const { flash, keep, pulledAll } = this.keptFlash(consume, full, keyBag());
    const flashCleared = keyBag() as Record<string, string>;
    if (full) {
      return {
        clearData: true,
        clearFlash: true,
        set: keyBag(this.data),
        deleted: [],
        flash,
        flashCleared,
        ...this.binding(true),
      };
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
      deleted:
        this.deletedKeys === undefined || this.deletedKeys.size === 0 ? NO_KEYS : [...this.deletedKeys],
      flash,
      flashCleared,
      ...this.binding(false),
    };
  }

  /** The user and policy part of the change set (SessionState keeps them): all of it, or what changed. */
  protected binding(_full: boolean): Pick<SessionChanges, 'user' | 'policy'> {
    return NO_BINDING;
  }

  /**
   * The whole session as a store would hold it after `changes(consume, true)`, as plain objects for
   * JSON.stringify alone (the cookie driver's seal), which writes them faster than key bags.
   */
  snapshot(consume: FlashConsumption): { data: Bag; flash: Bag } {
    return { data: jsonBag(this.data), flash: this.keptFlash(consume, true, {}).flash };
  }

  /**
   * The flash a commit keeps, put into `flash` (with putKey, so either kind of bag takes '__proto__'
   * as a key): what this request flashed unless the response consumes it, and for a `full` change
   * set what it was given and keeps. `keep` tells what of the given flash stays; `pulledAll`, that
   * every pushed message was pulled.
   */
  private keptFlash(consume: FlashConsumption, full: boolean, flash: Bag) {
    const kept = (key: string) => key === MESSAGES || this.keepAll || this.kept?.has(key) === true;
    const unread = (key: string) => this.read !== true && !this.read?.has(key);
    const keepOut = (key: string) => consume !== true || kept(key);
    const keep = (key: string) => !consume || kept(key) || (consume === 'read' && unread(key));
    for (const key in this.flashOut) if (keepOut(key)) putKey(flash, key, this.flashOut[key]);
    // Every message pulled: the key goes, unless another request pushed meanwhile (cleared by value).
    const pulledAll = noMessages(flash[MESSAGES]);
    if (pulledAll) delete flash[MESSAGES];
    if (full) {
      for (const key in this.flashIn) {
        if (keep(key) && !has(flash, key) && !(key === MESSAGES && pulledAll)) {
          putKey(flash, key, this.flashIn[key]);
        }
      }
    }
    return { flash, keep, pulledAll };
  }
}
