import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { SessionUserLimitError, type SessionMeta, type SessionUser, type UserLimit } from 'nest-session';
import { isUserIndexed, type UserIndexedSessionStore } from '../../lib/stores/session-store.js';
import { asRecord, changes, meta } from './fixtures.js';
import { LONG_TTL, SHORT_TTL, newId, type StoreHarness } from './store-contract.js';

let users = 0;
const newUser = () => `user-${process.pid}-${++users}-${newId().slice(0, 6)}`;

/**
 * The user index power (UserIndexedSessionStore): what every store that has it owes SessionRegistry,
 * at the store's level. The binding travels in the change set; apply, retire and destroy keep the
 * index in the same atomic step; expired sessions are never listed; users.maxPerUser is enforced
 * inside the bind.
 */
export function userIndexContract(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`user index contract: ${name}`, () => {
    let h: StoreHarness;
    let store: UserIndexedSessionStore;
    beforeEach(async () => {
      h = await makeStore();
      if (!isUserIndexed(h.store)) throw new Error(`${name} has no user index`);
      store = h.store;
    });
    afterEach(() => h.cleanup());

    const at = (ttl = LONG_TTL, create = true): SessionMeta => ({ ...meta(h.now(), ttl), create });
    const user = (id: string, signedInAt = h.now()): SessionUser => ({ id, signedInAt, userAgent: 'UA' });
    const limit = (max: number, onLimit: UserLimit['onLimit'], replaces?: string): UserLimit => ({
      max,
      onLimit,
      until: h.now(),
      replaces,
      revoked: [],
    });
    const listed = async (userId: string) => (await store.listUser(userId)).map(({ id }) => id).sort();

    it('lists a session bound by its change set, with its record; unbinding and rebinding move it', async () => {
      const [alice, bob] = [newUser(), newUser()];
      const id = newId();
      await store.apply(id, changes({ set: { a: 1 }, user: user(alice) }), at());
      const [found] = await store.listUser(alice);
      expect(found.id).toBe(id);
      expect(found.record).toMatchObject({ data: { a: 1 }, user: { id: alice, userAgent: 'UA' } });
      expect(asRecord(await store.get(id))?.user?.id).toBe(alice);
      await store.apply(id, changes({ user: user(bob) }), at(LONG_TTL, false));
      expect(await listed(alice)).toEqual([]);
      expect(await listed(bob)).toEqual([id]);
      await store.apply(id, changes({ user: null }), at(LONG_TTL, false));
      expect(await listed(bob)).toEqual([]);
      expect(asRecord(await store.get(id))?.user).toBeUndefined();
    });

    it('keeps the binding and the policy across change sets that do not name them', async () => {
      const alice = newUser();
      const id = newId();
      await store.apply(id, changes({ user: user(alice), policy: 'remember' }), at());
      await store.apply(id, changes({ set: { b: 2 } }), at(LONG_TTL, false));
      const record = asRecord(await store.get(id));
      expect(record).toMatchObject({ data: { b: 2 }, user: { id: alice }, policy: 'remember' });
      expect(await listed(alice)).toEqual([id]);
    });

    it('retire() and destroy() take the session out of the index in the same step', async () => {
      const alice = newUser();
      const [kept, retired, destroyed] = [newId(), newId(), newId()];
      for (const id of [kept, retired, destroyed])
        await store.apply(id, changes({ user: user(alice) }), at());
      await store.retire(retired, h.now() + LONG_TTL);
      await store.destroy(destroyed);
      expect(await listed(alice)).toEqual([kept]);
    });

    it('never lists an expired session, and lists only the user asked for', async () => {
      const [alice, bob] = [newUser(), newUser()];
      const [live, old, bobs] = [newId(), newId(), newId()];
      await store.apply(live, changes({ user: user(alice) }), at());
      await store.apply(old, changes({ user: user(alice) }), at(SHORT_TTL));
      await store.apply(bobs, changes({ user: user(bob) }), at());
      await h.expire(old);
      expect(await listed(alice)).toEqual([live]);
      expect(await listed(bob)).toEqual([bobs]);
      expect(await listed(newUser())).toEqual([]);
    });

    it("'reject': a binding past the limit throws SessionUserLimitError and writes nothing", async () => {
      const alice = newUser();
      const [a, b, c] = [newId(), newId(), newId()];
      await store.apply(a, changes({ user: user(alice) }), { ...at(), limit: limit(2, 'reject') });
      await store.apply(b, changes({ user: user(alice) }), { ...at(), limit: limit(2, 'reject') });
      await expect(
        store.apply(c, changes({ set: { x: 1 }, user: user(alice) }), { ...at(), limit: limit(2, 'reject') }),
      ).rejects.toThrow(SessionUserLimitError);
      expect(await store.get(c)).toBeUndefined();
      expect(await listed(alice)).toEqual([a, b].sort());
    });

    it("'revoke-oldest': retires the earliest sign-ins in the same step and says which", async () => {
      const alice = newUser();
      const [a, b, c] = [newId(), newId(), newId()];
      const t = h.now();
      await store.apply(a, changes({ user: user(alice, t - 3000) }), at());
      await store.apply(b, changes({ user: user(alice, t - 2000) }), at());
      const third = limit(2, 'revoke-oldest');
      await store.apply(c, changes({ user: user(alice, t) }), { ...at(), limit: third });
      expect(third.revoked).toEqual([a]);
      expect(await listed(alice)).toEqual([b, c].sort());
      const gone = await store.get(a);
      expect(gone === undefined || gone === 'retired').toBe(true);
      expect(await store.apply(a, changes({ set: { back: 1 } }), at(LONG_TTL, false))).toBe(false);
    });

    it('does not count the session a binding replaces (the one signIn() regenerated)', async () => {
      const alice = newUser();
      const [a, b, next] = [newId(), newId(), newId()];
      await store.apply(a, changes({ user: user(alice) }), at());
      await store.apply(b, changes({ user: user(alice) }), at());
      const bind = limit(2, 'reject', b);
      await store.apply(next, changes({ user: user(alice) }), { ...at(), limit: bind });
      expect(bind.revoked).toEqual([]);
      await store.retire(b, h.now() + LONG_TTL);
      expect(await listed(alice)).toEqual([a, next].sort());
    });

    it('lets no two bindings at once pass the limit', async () => {
      const alice = newUser();
      await store.apply(newId(), changes({ user: user(alice) }), at());
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () =>
          store.apply(newId(), changes({ user: user(alice) }), { ...at(), limit: limit(3, 'reject') }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(6);
      expect(await listed(alice)).toHaveLength(3);
    });
  });
}
