import { AssertionError } from 'node:assert';
import { isDeepStrictEqual, inspect } from 'node:util';

/** A session as the kit reads it back: what a test asserts on. */
export interface SessionSnapshot {
  /** Its public handle, as `SessionRegistry.list()` names it. */
  handle: string;
  /** The user it is signed in as (`signIn()`), or undefined. */
  userId: string | undefined;
  /** Its data (not flash). */
  data: Record<string, unknown>;
  /** The flash the next request will see. */
  flash: Record<string, unknown>;
  /** When it ends unless it is used again (idle timeout), or at the latest (lifetime). */
  expiresAt: Date;
  /** The policy it follows (`forRoot({ policies })`); undefined: the default one. */
  policy: string | undefined;
}

/**
 * Assertions on the session a response (or a cookie) leaves the client with. They need no
 * particular test runner: each resolves when it holds and rejects with Node's `AssertionError`
 * (`expected`, `actual`, a message that shows what was there) when it does not, which Jest, Vitest
 * and node:test all report.
 */
export interface SessionExpectations {
  /** The session is signed in as this user. */
  toBeSignedInAs(userId: string | number): Promise<void>;
  /** The session's data has these keys with these values (deeply equal); other keys may be there. */
  toHaveSession(data: Record<string, unknown>): Promise<void>;
  /** The next request will see this flash key (with this value, when one is given). */
  toHaveFlash(key: string, value?: unknown): Promise<void>;
  /** No session is left: the response cleared the cookie, or the cookie loads no session any more. */
  toBeDestroyed(): Promise<void>;
}

/** What the expectations look at: the session found (if any), and what was seen of its cookie. */
export interface Inspection {
  snapshot: SessionSnapshot | undefined;
  /** The cookie's name, for messages. */
  cookieName: string;
  /** A value for the cookie was found, or the response cleared it. */
  seen: boolean;
  cleared: boolean;
}

export function expectations(inspection: () => Promise<Inspection>): SessionExpectations {
  return {
    async toBeSignedInAs(userId) {
      const expected = String(userId);
      const found = await inspection();
      const session = found.snapshot;
      if (session?.userId === expected) return;
      const actual = session?.userId;
      const what =
        session === undefined
          ? noSession(found)
          : actual === undefined
            ? `it is not signed in (data: ${show(session.data)})`
            : `it is signed in as ${show(actual)}`;
      fail(
        `expected a session signed in as ${show(expected)}, but ${what}`,
        expected,
        actual,
        'toBeSignedInAs',
      );
    },

    async toHaveSession(data) {
      const found = await inspection();
      const session = found.snapshot;
      if (session !== undefined && includes(session.data, data)) return;
      const what = session === undefined ? noSession(found) : `its data is ${show(session.data)}`;
      fail(
        `expected the session's data to include ${show(data)}, but ${what}`,
        data,
        session?.data,
        'toHaveSession',
      );
    },

    async toHaveFlash(key, ...value) {
      const found = await inspection();
      const session = found.snapshot;
      const wanted = value.length === 0 ? undefined : { [key]: value[0] };
      const holds =
        session !== undefined &&
        Object.hasOwn(session.flash, key) &&
        (wanted === undefined || isDeepStrictEqual(session.flash[key], wanted[key]));
      if (holds) return;
      const what = session === undefined ? noSession(found) : `its flash is ${show(session.flash)}`;
      const expected = wanted === undefined ? `flash ${show(key)}` : `flash ${show(wanted)}`;
      fail(`expected ${expected}, but ${what}`, wanted ?? key, session?.flash, 'toHaveFlash');
    },

    async toBeDestroyed() {
      const found = await inspection();
      const session = found.snapshot;
      if (session === undefined && found.seen) return;
      const what =
        session === undefined
          ? `no ${found.cookieName} cookie was sent or cleared: there was no session to destroy`
          : `it is still there: ${session.userId === undefined ? 'not signed in' : `signed in as ${show(session.userId)}`}, data ${show(session.data)}`;
      fail(`expected the session to be destroyed, but ${what}`, undefined, session, 'toBeDestroyed');
    },
  };
}

function noSession(found: Inspection): string {
  if (found.cleared) return `the response cleared the ${found.cookieName} cookie: there is no session`;
  if (!found.seen) return `there is no ${found.cookieName} cookie: there is no session`;
  return `the ${found.cookieName} cookie loads no session (expired, destroyed, revoked or forged)`;
}

function includes(data: Record<string, unknown>, wanted: Record<string, unknown>): boolean {
  return Object.keys(wanted).every(
    (key) => Object.hasOwn(data, key) && isDeepStrictEqual(data[key], wanted[key]),
  );
}

function show(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Infinity, compact: true });
}

function fail(message: string, expected: unknown, actual: unknown, operator: string): never {
  throw new AssertionError({ message, expected, actual, operator, stackStartFn: fail });
}
