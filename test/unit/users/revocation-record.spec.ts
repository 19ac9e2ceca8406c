import { describe, expect, it } from '@jest/globals';
import { Keyring, newSessionId } from '../../../lib/crypto/keyring.js';
import { SessionUserLimitError } from '../../../lib/session.errors.js';
import { resolveSessionOptions } from '../../../lib/session.options.js';
import { MemoryStore } from '../../../lib/stores/memory.store.js';
import type { SessionStore } from '../../../lib/stores/session-store.js';
import {
  RevocationRecords,
  entryExpiry,
  type KnownSession,
  type RecordLimit,
} from '../../../lib/users/revocation-record.js';
import { asRecord } from '../../support/fixtures.js';
import { MapStore } from '../../support/stores.js';

const A = 'the-first-secret-that-is-long-enough-0123456';
const B = 'the-second-secret-that-is-long-enough-789abc';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const { policies } = resolveSessionOptions(
  {
    secret: A,
    idleTimeout: 2 * HOUR,
    lifetime: 14 * DAY,
    policies: { remember: { idleTimeout: 30 * DAY, lifetime: 90 * DAY } },
  },
  {},
);
const NO_LIMIT: RecordLimit = { max: Infinity, onLimit: 'revoke-oldest' };
/** The shape of a session id: 43 base64url characters, the last carrying 4 bits. */
const SESSION_ID = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

function clock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A session signed in at `now`, as the driver's commit records it. */
function session(now: number, policy?: string, extra: Partial<KnownSession> = {}): KnownSession {
  const s: KnownSession = {
    i: newSessionId(),
    t: now,
    c: now,
    w: now,
    a: now,
    e: entryExpiry(policies.of(policy), now, now),
    ...extra,
  };
  if (policy !== undefined) s.p = policy;
  return s;
}

function recordsOn(store: SessionStore, keyring = new Keyring([A]), limit = NO_LIMIT, now = Date.now) {
  return new RevocationRecords(store, keyring, policies, limit, now);
}

/** The stored data of the user's record under the keyring's current secret. */
async function stored(store: SessionStore, keyring: Keyring, user: string) {
  return asRecord(await store.get(keyring.userRecordIds(user)[0]))?.data;
}

describe('the cookie driver revocation record', () => {
  it("names each user's record by a session-shaped id from the user id and the secret; the store never sees the user id", async () => {
    const store = new MapStore();
    const keyring = new Keyring([A]);
    const records = recordsOn(store, keyring);
    const now = Date.now();
    await records.commit('alice@example.com', now, { add: session(now), signIn: true });
    const [id] = keyring.userRecordIds('alice@example.com');
    expect(id).toMatch(SESSION_ID);
    expect([...store.rows.keys()]).toEqual([id]);
    expect(store.rows.get(id)!.json).not.toContain('alice');
    expect(new Keyring([B]).userRecordIds('alice@example.com')[0]).not.toBe(id);
    expect(keyring.userRecordIds('bob@example.com')[0]).not.toBe(id);
  });

  it('keeps a session under its handle with what is known of it; the record expires with its latest entry', async () => {
    const store = new MapStore();
    const keyring = new Keyring([A]);
    const records = recordsOn(store, keyring);
    const now = Date.now();
    const laptop = session(now, undefined, { l: 'Laptop', ua: 'Firefox', ip: '203.0.113.0' });
    await records.commit('u', now, { add: laptop, signIn: true });
    expect(await stored(store, keyring, 'u')).toEqual({ [`s:${keyring.handle(laptop.i)}`]: laptop });
    const [id] = keyring.userRecordIds('u');
    expect(store.rows.get(id)!.expiresAt).toBe(laptop.e);
    // A remember-me session lasts longer: the record with it.
    const phone = session(now, 'remember', { t: now + 1 });
    await records.commit('u', now, { add: phone, signIn: true });
    expect(phone.e).toBeGreaterThan(laptop.e);
    expect(store.rows.get(id)!.expiresAt).toBe(phone.e);
    const view = await records.read('u', now);
    expect(view.live().map((s) => s.i)).toEqual([laptop.i, phone.i]);
  });

  it("drops what has passed on each write, and the entries of revoked sessions; keeps a revocation until the session's lifetime ends", async () => {
    const c = clock();
    const store = new MemoryStore({ max: 100 }, c.now);
    const keyring = new Keyring([A]);
    const records = recordsOn(store, keyring, NO_LIMIT, c.now);
    const short = session(c.now());
    const revoked = session(c.now(), 'remember');
    await records.commit('u', c.now(), { add: short, signIn: true });
    await records.commit('u', c.now(), { add: revoked, signIn: true });
    expect(await records.revoke('u', revoked.i, c.now())).toBe(true);
    expect(await records.revoke('u', revoked.i, c.now())).toBe(false);
    expect(await records.revoke('u', newSessionId(), c.now())).toBe(false);
    expect(await stored(store, keyring, 'u')).toEqual({
      [`s:${keyring.handle(short.i)}`]: short,
      [`r:${keyring.handle(revoked.i)}`]: revoked.c + 90 * DAY,
    });
    // Past the short session's idle end: the next write drops it.
    c.advance(short.e - c.now() + 1);
    const next = session(c.now());
    await records.commit('u', c.now(), { add: next, signIn: true });
    expect(await stored(store, keyring, 'u')).toEqual({
      [`s:${keyring.handle(next.i)}`]: next,
      [`r:${keyring.handle(revoked.i)}`]: revoked.c + 90 * DAY,
    });
    // Past everything: the record itself is gone.
    c.advance(91 * DAY);
    expect(store.getNow(keyring.userRecordIds('u')[0])).toBeUndefined();
  });

  it('revokeAll(): every session it sees, and with "not before" those kept earlier that it did not see; later sign-ins live', async () => {
    const c = clock();
    const store = new MemoryStore({ max: 100 }, c.now);
    const keyring = new Keyring([A]);
    const records = recordsOn(store, keyring, NO_LIMIT, c.now);
    for (let i = 0; i < 3; i++) await records.commit('u', c.now(), { add: session(c.now()), signIn: true });
    c.advance(1000);
    expect(await records.revokeAll('u', c.now())).toBe(3);
    const data = (await stored(store, keyring, 'u'))!;
    expect(Object.keys(data).filter((k) => k.startsWith('r:'))).toHaveLength(3);
    expect(data[`n:${c.now()}`]).toBe(c.now() + 90 * DAY);
    // A sign-in the record kept before revokeAll() (its write raced the read), and one after.
    const unseen = session(c.now() - 500, undefined, { w: c.now() - 500 });
    await records.commit('u', c.now(), { add: unseen, signIn: true });
    c.advance(1);
    const after = session(c.now());
    await records.commit('u', c.now(), { add: after, signIn: true });
    expect((await records.read('u', c.now())).live().map((s) => s.i)).toEqual([after.i]);
    expect(await records.revokeAll('u', c.now())).toBe(1);
  });

  it('rotation: records under an older secret are still read, revocations are written under the current one', async () => {
    const store = new MapStore();
    const now = Date.now();
    const before = recordsOn(store, new Keyring([A]));
    const s = session(now);
    await before.commit('u', now, { add: s, signIn: true });
    // Steps 1 and 2 of the rotation: both secrets known, the new one current.
    const rotated = recordsOn(store, new Keyring([B, A]));
    const view = await rotated.read('u', now);
    expect(view.find(s.i)).toEqual(s);
    expect(view.inCurrent(s.i)).toBe(false);
    expect(await rotated.revoke('u', s.i, now)).toBe(true);
    expect(await stored(store, new Keyring([B]), 'u')).toEqual({
      [`r:${new Keyring([B]).handle(s.i)}`]: s.c + 14 * DAY,
    });
    // A process still on [A, B] sees the revocation made under B.
    expect((await recordsOn(store, new Keyring([A, B])).read('u', now)).find(s.i)).toBeUndefined();
  });

  describe('users.maxPerUser', () => {
    it("'reject': a sign-in past it is refused and writes nothing; the session it replaces is not counted", async () => {
      const c = clock();
      const store = new MemoryStore({ max: 100 }, c.now);
      const keyring = new Keyring([A]);
      const records = recordsOn(store, keyring, { max: 2, onLimit: 'reject' }, c.now);
      const [a, b] = [session(c.now()), session(c.now() + 1)];
      await records.commit('u', c.now(), { add: a, signIn: true });
      await records.commit('u', c.now(), { add: b, signIn: true });
      const before = await stored(store, keyring, 'u');
      expect(() => records.commit('u', c.now(), { add: session(c.now() + 2), signIn: true })).toThrow(
        SessionUserLimitError,
      );
      expect(await stored(store, keyring, 'u')).toEqual(before);
      // Signing in again on b's device replaces b.
      const again = session(c.now() + 3);
      await records.commit('u', c.now(), { add: again, signIn: true, revoke: [b] });
      expect((await records.read('u', c.now())).live().map((s) => s.i)).toEqual([a.i, again.i]);
    });

    it("'revoke-oldest': a sign-in past it revokes the earliest in the same change set", async () => {
      const c = clock();
      const store = new MemoryStore({ max: 100 }, c.now);
      const keyring = new Keyring([A]);
      const records = recordsOn(store, keyring, { max: 2, onLimit: 'revoke-oldest' }, c.now);
      const [a, b, d] = [session(c.now()), session(c.now() + 1), session(c.now() + 2)];
      for (const s of [a, b, d]) await records.commit('u', c.now(), { add: s, signIn: true });
      expect((await records.read('u', c.now())).live().map((s) => s.i)).toEqual([b.i, d.i]);
      expect(await stored(store, keyring, 'u')).toHaveProperty(`r:${keyring.handle(a.i)}`);
    });

    it("two sign-ins that overlap between another's read and write: never more usable than the limit; 'reject' refuses the later one", async () => {
      const store = new MapStore();
      const records = recordsOn(store, new Keyring([A]), { max: 2, onLimit: 'reject' });
      const now = Date.now();
      const first = session(now - 10);
      await records.commit('u', now, { add: first, signIn: true });
      const [early, late] = [session(now - 2), session(now - 1)];
      // Both read the record before either writes: each sees one session, room for its own.
      const outcomes = await Promise.allSettled(
        [early, late].map((s) => records.commit('u', now, { add: s, signIn: true })),
      );
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(SessionUserLimitError);
      expect((await records.read('u', now)).live().map((s) => s.i)).toEqual([first.i, early.i]);
    });

    it("two sign-ins that overlap under 'revoke-oldest' both stay, and the earliest session goes", async () => {
      const store = new MapStore();
      const records = recordsOn(store, new Keyring([A]), { max: 2, onLimit: 'revoke-oldest' });
      const now = Date.now();
      const first = session(now - 10);
      await records.commit('u', now, { add: first, signIn: true });
      await records.commit('u', now, { add: session(now - 5), signIn: true });
      const [early, late] = [session(now - 2), session(now - 1)];
      await Promise.all([early, late].map((s) => records.commit('u', now, { add: s, signIn: true })));
      expect((await records.read('u', now)).live().map((s) => s.i)).toEqual([early.i, late.i]);
    });
  });

  it("raises the record's expiry over an entry another write added between its read and its write", async () => {
    const store = new MapStore();
    const keyring = new Keyring([A]);
    const records = recordsOn(store, keyring);
    const now = Date.now();
    const remembered = session(now, 'remember');
    const short = session(now);
    // Both read an empty record; the short one writes last, with the expiry it alone knows.
    await Promise.all([remembered, short].map((s) => records.commit('u', now, { add: s, signIn: true })));
    expect(store.rows.get(keyring.userRecordIds('u')[0])!.expiresAt).toBe(remembered.e);
    expect((await records.read('u', now)).live()).toHaveLength(2);
  });
});
