import type { Logger } from '@nestjs/common';
import { expiresAt, isExpired, needsTouch } from '../core/expiry.js';
import type { Policies } from '../core/policies.js';
import { ownString, RecentMap } from '../core/recent-map.js';
import { isEmptyChanges } from '../core/change-set.js';
import { isBag, isEmptyBag } from '../core/json-value.js';
import { SessionState, type FlashConsumption } from '../core/session-state.js';
import { newSessionId, type Keyring } from '../crypto/keyring.js';
import { lapsed } from '../events/commit-report.js';
import type { SessionEventSink } from '../events/session-event.js';
import { SessionTooLargeError } from '../session.errors.js';
import type { SessionRecord } from '../core/change-set.js';
import type { CommitInput, CookieSizer, DriverCommit, SessionDriver } from './session-driver.js';

/** Why the cookie driver cannot take a change after the head. */
const IN_COOKIE =
  "the cookie driver keeps the session in its cookie, which went out with the response's head";

/** Browsers keep a cookie only while its whole Set-Cookie value (name, value, attributes) fits. */
export const COOKIE_SIZE_LIMIT = 4096;

type Bag = Record<string, unknown>;

/**
 * What the seal holds: id, data, flash, createdAt, lastActivity, and when signed in the user (id and
 * sign-in time; the device is kept server-side, in the revocation record) and the policy. Short keys:
 * every byte counts.
 */
interface Sealed {
  i: string;
  d: Bag;
  f: Bag;
  c: number;
  /** The last activity, in ms after `c`: a small number, cheaper to write and read than a timestamp. */
  t?: number;
  /** The last activity as a timestamp: cookies sealed before `t` (read, never written now). */
  a?: number;
  u?: [id: string, signedInAt: number];
  p?: string;
}

/**
 * A client-side driver: the whole session is sealed (XChaCha20-Poly1305 or AES-256-GCM, the cookie
 * name authenticated: crypto/seal.ts) into the cookie, with its own timestamps, so expiry is enforced here whatever the browser kept.
 * Nothing is stored: the last response a client keeps wins, and a copied cookie stays valid until
 * it expires.
 */
export class CookieDriver implements SessionDriver {
  /** A session too large for its cookie refuses the commit: the response becomes a 500 and nothing is kept. */
  readonly mayRefuse = true;
  /** States opened with an older secret: resealed with the current one on this response. */
  private readonly stale = new WeakSet<SessionState>();
  /**
   * What `unusedNeedsCommit` read of recent cookies, by their exact sealed string (one that opened):
   * a browser sends the same cookie until a response reseals it, and opening it is this driver's
   * main cost.
   */
  private readonly peeks = new RecentMap<string, CookiePeek>(PEEKS_MAX / 2);

  /** The cookie the last peek opened, and what it held, for a load that follows at once (handed out once). */
  private opened: { cookie: string; sealed: Opened } | undefined;

  constructor(
    readonly name: string,
    readonly cookieName: string,
    private readonly keyring: Keyring,
    private readonly cookies: CookieSizer,
    private readonly policies: Policies,
    private readonly logger: Logger,
    /** SessionEvents: the sessions found expired at load. */
    private readonly events?: SessionEventSink,
  ) {}

  /** Anything that does not open, parse and pass the timeouts is a fresh session, never an error. */
  load(cookie: string | undefined, now: number): SessionState {
    // The commit of a session no handler used loads it just after its peek opened it: not twice.
    const opened = this.opened;
    this.opened = undefined;
    const sealed = opened !== undefined && opened.cookie === cookie ? opened.sealed : this.open(cookie);
    if (sealed === undefined) return new SessionState(undefined, undefined, newSessionId);
    const { i, d, f, c, u, p } = sealed.value;
    const a = lastActivity(sealed.value);
    const record: SessionRecord = { data: d, flash: f, createdAt: c, lastActivity: a };
    if (u !== undefined) record.user = { id: u[0], signedInAt: u[1] };
    if (p !== undefined) record.policy = p;
    const policy = this.policies.of(p);
    if (isExpired(policy, c, a, now)) return lapsed(i, record, policy, this.events);
    const state = new SessionState(i, record, newSessionId);
    if (sealed.stale) this.stale.add(state);
    return state;
  }

  /**
   * A session no handler used is resealed only to extend it, to move it to the current secret, or to
   * drop the flash a 2xx consumed; an expired one is loaded while someone listens to SessionEvents
   * (the load reports it). A cookie that does not open: nothing to write.
   */
  unusedNeedsCommit(cookie: string, consume: FlashConsumption, now: number, noTouch: boolean): boolean {
    const peek = this.peeks.get(cookie);
    if (peek !== undefined) return this.needsCommit(peek, consume, now, noTouch);
    const sealed = this.open(cookie);
    if (sealed === undefined) return false;
    const { c, f, p } = sealed.value;
    const read = {
      createdAt: c,
      lastActivity: lastActivity(sealed.value),
      policy: p,
      hasFlash: !isEmptyBag(f),
      stale: sealed.stale,
    };
    this.peeks.set(ownString(cookie), read); // not a slice of the request's Cookie header
    const due = this.needsCommit(read, consume, now, noTouch);
    // Due: the commit loads it next, from what was opened here.
    this.opened = due ? { cookie, sealed } : undefined;
    return due;
  }

  private needsCommit(peek: CookiePeek, consume: FlashConsumption, now: number, noTouch: boolean): boolean {
    const policy = this.policies.of(peek.policy);
    if (isExpired(policy, peek.createdAt, peek.lastActivity, now)) return this.events?.listening === true;
    if (consume === true && peek.hasFlash) return true;
    return !noTouch && (peek.stale || needsTouch(policy, peek.lastActivity, now));
  }

  commit({ state, consume, hadCookie, secure, now, noTouch }: CommitInput): DriverCommit {
    if (state.failure) return {};
    state.committed(IN_COOKIE);
    const cookie = this.cookieFor(state, consume, now, noTouch === true);
    if (cookie === undefined) {
      // destroy() clears the client's cookie, unless something set afterwards starts a new session.
      return state.destroyed && hadCookie ? { cookie: 'clear' } : {};
    }
    const size = this.cookies.size(this.cookieName, cookie.value, secure);
    if (size <= COOKIE_SIZE_LIMIT) return { cookie };
    const failure = new SessionTooLargeError(size, COOKIE_SIZE_LIMIT);
    this.logger.error(
      `${failure.message}. The '${this.cookieName}' cookie was not sent: the client keeps its previous one.`,
    );
    return { failure };
  }

  /** The cookie to send, or undefined when the client's cookie (or none) is still right. */
  private cookieFor(
    state: SessionState,
    consume: CommitInput['consume'],
    now: number,
    noTouch: boolean,
  ): { value: string; expires: number | undefined } | undefined {
    // A new session, or the fresh one destroy() starts: written only when it holds something.
    const fresh = state.isNew || state.destroyed;
    // Unchanged: resealed only to extend it (or to move it to the current secret), never on @NoTouch().
    if (
      !fresh &&
      !state.modified &&
      isEmptyChanges(state.changes(consume, false)) &&
      (noTouch ||
        (!this.stale.has(state) && !needsTouch(this.policies.of(state.policy), state.lastActivity, now)))
    ) {
      return undefined;
    }
    const { data, flash } = state.snapshot(consume);
    const { user, policy } = state;
    if (fresh && isEmptyBag(data) && isEmptyBag(flash) && user === undefined) return undefined;
    const createdAt = fresh ? now : (state.createdAt ?? now);
    const sealed: Sealed = { i: state.id, d: data, f: flash, c: createdAt, t: now - createdAt };
    if (user !== undefined) sealed.u = [user.id, user.signedInAt];
    if (policy !== undefined) sealed.p = policy;
    const rules = this.policies.of(policy);
    return {
      value: this.keyring.seal(this.cookieName, JSON.stringify(sealed)),
      expires: rules.persistent ? expiresAt(rules, createdAt, now) : undefined,
    };
  }

  private open(cookie: string | undefined): Opened | undefined {
    // A cookie longer than any this driver sends was not sent by it: skip the work.
    if (cookie === undefined || cookie === '' || cookie.length > COOKIE_SIZE_LIMIT) return undefined;
    try {
      const opened = this.keyring.open(this.cookieName, cookie);
      if (opened === undefined) return undefined;
      const value: unknown = JSON.parse(opened.plaintext);
      return isSealed(value) ? { value, stale: opened.stale } : undefined;
    } catch {
      return undefined;
    }
  }
}

/** An opened cookie: what it held, and whether an older secret sealed it. */
interface Opened {
  value: Sealed;
  stale: boolean;
}

/** How many cookies' peeks the driver keeps (a sealed cookie is at most 4 KB). */
const PEEKS_MAX = 1000;

/** What a request that does not use its session needs to know of it. */
interface CookiePeek {
  createdAt: number;
  lastActivity: number;
  policy: string | undefined;
  hasFlash: boolean;
  /** Sealed with an older secret. */
  stale: boolean;
}

function isSealed(value: unknown): value is Sealed {
  if (!isBag(value)) return false;
  const { i, d, f, c, t, a, u, p } = value;
  if (u !== undefined && !(Array.isArray(u) && typeof u[0] === 'string' && typeof u[1] === 'number'))
    return false;
  if (p !== undefined && typeof p !== 'string') return false;
  return (
    typeof i === 'string' &&
    i !== '' &&
    isBag(d) &&
    isBag(f) &&
    typeof c === 'number' &&
    Number.isFinite(c) &&
    ((typeof t === 'number' && Number.isFinite(t)) ||
      (t === undefined && typeof a === 'number' && Number.isFinite(a)))
  );
}

function lastActivity(sealed: Sealed): number {
  return sealed.t !== undefined ? sealed.c + sealed.t : sealed.a!;
}
