import type { Cluster, Redis } from 'ioredis';
import { RecentMap } from '../../core/recent-map.js';
import { SessionTooLargeError, SessionUserLimitError } from '../../session.errors.js';
import type {
  ClosableSessionStore,
  DiagnosingSessionStore,
  SessionChanges,
  SessionMeta,
  SessionRecord,
  SessionUser,
  StartupCheckedSessionStore,
  UserIndexedSessionStore,
} from '../session-store.js';
import {
  hashOf,
  isCluster,
  RedisConnection,
  retireWaiting,
  waitForReplicas,
  type RedisClient,
} from './redis.client.js';
import { RedisIndex } from './redis.index.js';
import { redisMisconfiguration, type IORedis } from './redis.connection.js';
import { resolveRedisOptions, type RedisDriverOptions } from './redis.options.js';
import {
  bindingOf,
  changeSetArgs,
  declaredKeys,
  fieldOf,
  indexAhead,
  indexKeys,
  indexWords,
  knownFrom,
  noteIndexed,
  parseRecord,
  RETIRED,
  USER_ID,
  userKey,
  type Binding,
  type KnownBinding,
} from './redis.record.js';
import { applyAnswer, boundTo, isBound, type ApplyAnswer } from './redis.scripts.js';

/** What the driver gives a store beyond the user's options (tests give more). */
export interface RedisStoreInternals {
  /** How ioredis is imported (for the start-up check). */
  importer?: () => Promise<IORedis>;
  /** Bytes of one session's JSON past which a change is refused. Default: no limit. */
  maxSize?: number;
  /** The clock (ms since the epoch). Default Date.now. */
  now?: () => number;
}

/** How many times a script is sent again when the session was bound to another user than the one declared. */
const TRIES = 4;
/**
 * How many times, at most, the apply script is sent again to declare more of the user's sessions (a
 * binding past the limit). Each try declares all named so far, so they are bounded by the sign-ins at once.
 */
const DECLARES = 256;

/**
 * Sessions in Redis, one hash per session (`<prefix><id>`): a field per data key (`d:<key>`) and per
 * flash key (`f:<key>`), each holding the value's JSON, plus the timestamps, and the user and policy
 * when the session has them (redis.record.ts). A change set is one Lua script (EVALSHA, EVAL when the
 * script cache is empty) that touches only the fields it names, so its cost does not grow with the
 * session and concurrent requests that touch different keys all survive. The key expires with the
 * session, so nothing has to sweep: every write sets its TTL to the time the session has left
 * (`expiresAt - lastActivity`, PEXPIRE) rather than PEXPIREAT `expiresAt`, so a clock difference
 * between the app's hosts and Redis's cannot end sessions early.
 *
 * The user index: one per user (redis.index-scripts.ts), written by the same script as the session on
 * one node, around it on a Cluster (redis.index.ts); an entry runs up to a minute ahead of its
 * session's expiry (indexScore()), so most writes leave it alone. A script names its keys before it
 * runs, so the store remembers the user of each session it read or wrote lately (a script that finds
 * another answers so and is sent again). Most requests send one script on one key.
 */
export class RedisStore
  implements ClosableSessionStore, StartupCheckedSessionStore, DiagnosingSessionStore, UserIndexedSessionStore
{
  private readonly prefix: string;
  private readonly connection: RedisConnection;
  /** Replicas a retire waits for (WAIT) before the response leaves; 0: none. */
  private readonly replicas: number;
  private readonly replicaTimeout: number;
  private readonly maxSize: number;
  private readonly now: () => number;
  /** Session id -> the binding it was last seen with (read or written here); absent: none known. */
  private readonly bound = new RecentMap<string, KnownBinding>(5_000);
  private readonly index: RedisIndex;

  constructor(options: RedisDriverOptions = {}, internals: RedisStoreInternals = {}) {
    const resolved = resolveRedisOptions(options);
    this.connection = new RedisConnection(
      resolved.client,
      resolved.target,
      internals.importer ?? (() => import('ioredis')),
    );
    this.prefix = resolved.prefix;
    this.replicas = resolved.waitForReplicas;
    this.replicaTimeout = resolved.waitTimeout;
    this.maxSize = internals.maxSize ?? Infinity;
    this.now = internals.now ?? (() => Date.now());
    this.index = new RedisIndex(this.prefix, this.now, async (client, id, until) => {
      const ttl = Math.max(1, Math.ceil(until - this.now()));
      return (await this.retireScript(client, [this.prefix + id], [ttl, until])) !== null;
    });
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    const client = await this.connected();
    const hash = await hashOf(client, this.prefix + id);
    // What this process knew of the session's binding, looked up only for a signed-in hash.
    let known: KnownBinding | undefined;
    const record = parseRecord(hash, () => (known = this.bound.get(id)));
    if (record?.user !== undefined) {
      if (record.user !== known?.parsed) this.bound.set(id, knownFrom(hash, record.user, known));
      return record;
    }
    this.bound.delete(id);
    if (record !== undefined) return record;
    // A tombstone ends on the app's clock (its TTL in Redis only removes it); one written before the
    // tombstone held its end ('1') has ended.
    const retired = fieldOf(hash, RETIRED);
    return retired !== undefined && Number(retired) > this.now() ? 'retired' : undefined;
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    const client = await this.connected();
    const args = changeSetArgs(changes, meta, this.maxSize);
    const next = changes.user ? bindingOf(changes.user) : undefined;
    let known = this.bound.get(id);
    const declared = new Set<string>();
    for (let tries = 0, declares = 0; tries < TRIES && declares <= DECLARES;) {
      const ahead = indexAhead(known, changes, meta);
      const answer: ApplyAnswer = isCluster(client)
        ? await this.index.apply(client, id, args, known, changes, meta, next, ahead)
        : await this.applyHere(client, id, args, known, next, meta, [...declared], ahead);
      switch (answer.kind) {
        case 'bound':
          known = answer.binding;
          tries++;
          continue;
        case 'declare':
          declares += answer.ids.some((member) => !declared.has(member)) ? 1 : DECLARES + 1;
          for (const member of answer.ids) declared.add(member);
          continue;
        case 'limit':
          throw new SessionUserLimitError(meta.limit!.max);
        case 'too-large':
          throw SessionTooLargeError.inStore(answer.size, this.maxSize);
        case 'refused':
          this.bound.delete(id);
          return false;
      }
      if (changes.user !== undefined) this.remember(id, changes.user ?? undefined);
      if (next ?? known) noteIndexed(this.bound.get(id), next ?? known, meta); // an anonymous write: no lookup
      if (answer.retired.length > 0) {
        for (const revoked of answer.retired) this.bound.delete(revoked);
        meta.limit?.revoked.push(...answer.retired);
        if (!isCluster(client)) await waitForReplicas(client, this.replicas, this.replicaTimeout);
      }
      return true;
    }
    throw moved();
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    const client = await this.connected();
    const ttl = Math.max(1, Math.ceil(until - this.now()));
    const flat = await this.indexed(client, id, (keys, tail) =>
      this.retireScript(client, keys, [ttl, until, ...tail]),
    );
    if (flat === null) return undefined;
    const user = fieldOf(flat as string[], USER_ID);
    if (user !== undefined && isCluster(client)) await this.index.removeAfter(client, user, id);
    return parseRecord(flat as string[]);
  }

  async destroy(id: string): Promise<void> {
    const client = await this.connected();
    const user = await this.indexed(client, id, (keys, tail) =>
      client.nestSessionDestroy(keys.length, ...keys, ...tail),
    );
    if (user !== '' && isCluster(client)) await this.index.removeAfter(client, String(user), id);
  }

  /**
   * The user's live sessions: the index's unexpired members, each checked against its hash (live, not
   * retired, this user's); those that fail leave the index (checked again in that step on one node).
   */
  async listUser(userId: string): Promise<Array<{ id: string; record: SessionRecord }>> {
    const client = await this.connected();
    const user = userKey(userId);
    const since = this.now();
    const ids = await client.zrangebyscore(indexKeys(this.prefix, user)[0], `(${since}`, '+inf');
    const hashes = await Promise.all(ids.map((id) => hashOf(client, this.prefix + id)));
    const found: Array<{ id: string; record: SessionRecord }> = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      // parseRecord() takes a tombstone for no record.
      const record = fieldOf(hashes[i], USER_ID) === user ? parseRecord(hashes[i]) : undefined;
      if (record === undefined) stale.push(id);
      else found.push({ id, record });
      this.remember(id, record?.user);
    });
    if (stale.length > 0) await this.index.drop(client, user, since, stale, !isCluster(client));
    return found;
  }

  /** What a Redis error says about the setup, when it is a setup mistake rather than an outage. */
  misconfiguration(error: unknown): string | undefined {
    return redisMisconfiguration(error);
  }

  /** At start-up: ioredis must be installed when the driver opens its own client. */
  checkAtStartup(): Promise<void> {
    return this.connection.checkAtStartup();
  }

  /** Closes the client the driver opened from `redis.url`; the app's own client stays open. */
  close(): Promise<void> {
    return this.connection.close();
  }

  /** @internal The client sessions go through: the app's, or the one opened from `redis.url`. */
  client(): Promise<Redis | Cluster> {
    return this.connection.client();
  }

  private connected(): Promise<RedisClient> {
    return this.connection.connected();
  }

  /**
   * The apply script on one node: the session's hash, the index of the user it is expected to be
   * bound to and of the one it binds to, and the sessions `declared` to be checked against the limit;
   * the hash alone when the index is `ahead` (the script then only checks the binding).
   */
  private async applyHere(
    client: RedisClient,
    id: string,
    args: (string | number)[],
    known: Binding | undefined,
    next: Binding | undefined,
    meta: SessionMeta,
    declared: string[],
    ahead: boolean,
  ): Promise<ApplyAnswer> {
    const expect = known?.user ?? '';
    if ((known === undefined && next === undefined) || ahead)
      return applyAnswer(await client.nestSessionApply(1, this.prefix + id, ...args, expect));
    const keys = [this.prefix + id, ...declaredKeys(this.prefix, known)];
    if (next !== undefined && next.user !== known?.user) keys.push(...declaredKeys(this.prefix, next));
    keys.push(...declared.map((member) => this.prefix + member));
    const words = indexWords(id, this.now(), meta, (next ?? known)!.signedInAt, declared);
    return applyAnswer(await client.nestSessionApply(keys.length, ...keys, ...args, expect, words));
  }

  /**
   * Runs the retire or the destroy script: on one node with the index of the user the session is
   * expected to be bound to (KEYS after the hash; ARGV expect, id, now after the script's own), sent
   * again while the session turns out bound to another; on a Cluster on the hash alone (the caller
   * takes the entry out after).
   */
  private async indexed(
    client: RedisClient,
    id: string,
    run: (keys: string[], tail: (string | number)[]) => Promise<unknown>,
  ): Promise<unknown> {
    const here = !isCluster(client);
    let known = this.bound.get(id);
    for (let tries = 0; tries < TRIES; tries++) {
      const tail = here ? [known?.user ?? '', id, this.now()] : [];
      const answer = await run([this.prefix + id, ...(here ? declaredKeys(this.prefix, known) : [])], tail);
      if (!isBound(answer)) {
        this.bound.delete(id);
        return answer;
      }
      known = boundTo(answer[1]).binding;
    }
    throw moved();
  }

  /** The retire script, then (Sentinel) WAIT in the same round trip: a failover cannot bring the id back. */
  private retireScript(client: RedisClient, keys: string[], args: (string | number)[]): Promise<unknown> {
    return retireWaiting(client, keys, args, this.replicas, this.replicaTimeout);
  }

  /** Keeps the binding a session was read or written with here. */
  private remember(id: string, user: SessionUser | undefined): void {
    if (user === undefined) this.bound.delete(id);
    else this.bound.set(id, bindingOf(user));
  }
}

/** The session's user, or that user's sessions, changed again before each try (other requests meanwhile). */
const moved = () =>
  new Error(`the session's user, or that user's sessions, changed at each of ${TRIES} tries`);
