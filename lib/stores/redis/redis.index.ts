/**
 * The user index's steps outside a session's script: the pruning of what a read found stale, and
 * the Redis Cluster's protocol, where a user's index (one slot, its hash tag) and a session's hash
 * (another slot) cannot be in one script. There each step is atomic on its own key, and the order
 * makes the index never wrong for the registry, whose reads validate every entry against its session:
 *
 * - an entry is written before its session (reserve, then the session's script), so a session is
 *   never bound without its entry; a failed write leaves an entry that no live session backs, which
 *   the next read drops (after the grace an entry in flight has);
 * - an entry leaves after its session was retired, destroyed or bound elsewhere, so a stale entry
 *   is only ever one a read drops;
 * - users.maxPerUser is counted and reserved in one step on the index key, so two bindings cannot
 *   both pass it; the sessions it revokes are retired after the new one is written.
 */
import type { SessionChanges, SessionMeta } from '../session-store.js';
import type { RedisClient } from './redis.client.js';
import { indexKeys, indexScore, USER_ID, type Binding } from './redis.record.js';
import { applyAnswer, type ApplyAnswer } from './redis.scripts.js';

/**
 * How long (ms) after a binding was reserved or settled a read that finds its session missing, or
 * bound elsewhere, takes it for a binding in flight (its session not written yet), not a stale entry.
 */
export const IN_FLIGHT = 10_000;

export class RedisIndex {
  constructor(
    private readonly prefix: string,
    private readonly now: () => number,
    /** Retires a session (a tombstone until `until`): whether it was live. */
    private readonly retire: (client: RedisClient, id: string, until: number) => Promise<boolean>,
  ) {}

  /** A user index's script: its keys, then op, now and the grace, then the op's own arguments. */
  index(client: RedisClient, user: string, op: string, ...args: (string | number)[]): Promise<unknown> {
    return client.nestSessionIndex(3, ...indexKeys(this.prefix, user), op, this.now(), IN_FLIGHT, ...args);
  }

  /** A step after the session's write: a failure leaves a stale entry, which the next read drops. */
  async after(step: Promise<unknown>): Promise<void> {
    await step.catch(() => undefined);
  }

  /** After the session was retired, destroyed or bound elsewhere: its entry leaves the user's index. */
  removeAfter(client: RedisClient, user: string, id: string): Promise<void> {
    return this.after(this.index(client, user, 'remove', id));
  }

  /**
   * A change set with `known` the binding the store expects: the entry of the binding it leaves the
   * session with is reserved (or its expiry raised) first, then the session is written, then the
   * entry leaves the index the session was in before, the revoked sessions are retired, and the
   * new entry is settled. A touch whose entry is `ahead` of the session's expiry skips the reserve.
   */
  async apply(
    client: RedisClient,
    id: string,
    args: (string | number)[],
    known: Binding | undefined,
    changes: SessionChanges,
    meta: SessionMeta,
    next: Binding | undefined,
    ahead: boolean,
  ): Promise<ApplyAnswer> {
    const target = changes.user === undefined ? known : next;
    const revoke = target && !ahead ? await this.reserve(client, target, id, meta, next !== undefined) : [];
    if (revoke === 'limit') return { kind: 'limit' };
    const answer = applyAnswer(
      await client.nestSessionApply(1, this.prefix + id, ...args, known?.user ?? ''),
    );
    if (answer.kind !== 'applied') {
      // Nothing written: an entry reserved for a session that is not live, or not this user's, leaves.
      const notHis =
        answer.kind === 'refused' || (answer.kind === 'too-large' && target?.user !== known?.user);
      if (target && notHis) await this.removeAfter(client, target.user, id);
      return answer;
    }
    if (known && known.user !== target?.user) await this.removeAfter(client, known.user, id);
    if (next === undefined) return answer;
    const retired: string[] = [];
    for (const victim of revoke)
      if (await this.retire(client, victim, meta.limit!.until)) retired.push(victim);
    const settle = this.index(client, next.user, 'settle', id, indexScore(meta), next.signedInAt, ...retired);
    await this.after(settle);
    return { kind: 'applied', retired };
  }

  /**
   * Reserves (a binding) or raises (a touch) the session's entry, counting the user's other live
   * sessions against the limit in the same step; past it, the entries are first checked against
   * their sessions (stale ones dropped, bindings in flight kept), then counted again. Resolves to
   * the sessions to retire, or 'limit'.
   */
  private async reserve(
    client: RedisClient,
    target: Binding,
    id: string,
    meta: SessionMeta,
    bind: boolean,
  ): Promise<string[] | 'limit'> {
    const limit = bind ? meta.limit : undefined;
    const ask = async (validated: boolean) =>
      (await this.index(
        client,
        target.user,
        'reserve',
        id,
        indexScore(meta),
        target.signedInAt,
        bind ? 1 : 0,
        limit?.max ?? '',
        limit?.onLimit ?? '',
        limit?.replaces ?? '',
        validated ? 1 : 0,
      )) as [number, ...string[]];
    let answer = await ask(false);
    if (answer[0] === -3) {
      await this.validate(client, target.user, answer.slice(1) as string[]);
      answer = await ask(true);
    }
    if (answer[0] === -4) return 'limit';
    if (answer[0] !== 1) throw new Error(`the user index answered ${String(answer)}`);
    return answer.slice(1) as string[];
  }

  /** Drops the entries among `ids` whose session is not a live one of the user's (unless in flight). */
  async validate(client: RedisClient, user: string, ids: string[]): Promise<void> {
    const since = this.now();
    const owners = await Promise.all(ids.map((id) => client.hget(this.prefix + id, USER_ID)));
    const stale = ids.filter((_, i) => owners[i] !== user);
    if (stale.length > 0) await this.drop(client, user, since, stale, false);
  }

  /**
   * Drops the entries a read made at `since` found with no live session of the user's: on one node
   * (`here`) each checked again against its hash in the same step; on a Cluster unless its binding
   * was reserved or settled within IN_FLIGHT before that read.
   */
  async drop(client: RedisClient, user: string, since: number, ids: string[], here: boolean): Promise<void> {
    const keys = [...indexKeys(this.prefix, user), ...(here ? ids.map((id) => this.prefix + id) : [])];
    await client.nestSessionIndex(keys.length, ...keys, 'drop', this.now(), IN_FLIGHT, user, since, ...ids);
  }
}
