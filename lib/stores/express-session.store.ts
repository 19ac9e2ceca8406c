/**
 * What nest-session needs of an express-session store (express-session's `Store`: MemoryStore,
 * connect-redis, connect-mongo, connect-dynamodb, connect-pg-simple, ...; @fastify/session's stores
 * have the same shape), and its callbacks as promises. Used by the adapter (any such store as a
 * driver) and by the migration (reading and destroying an old app's sessions).
 */

/** A callback as express-session's stores call it: an error, or null and a value. */
export type StoreCallback<T = unknown> = (error?: unknown, value?: T) => void;

/**
 * An express-session store, as its README's "Session Store Implementation" describes it: `get`,
 * `set` and `destroy` required, `all`, `length`, `clear` and `touch` optional, each taking a
 * callback (some return a promise as well).
 */
export interface ExpressSessionStore {
  get(id: string, callback: StoreCallback<any>): unknown;
  set(id: string, session: any, callback?: StoreCallback): unknown;
  destroy(id: string, callback?: StoreCallback): unknown;
  touch?(id: string, session: any, callback?: StoreCallback): unknown;
  all?(callback: StoreCallback<any>): unknown;
  length?(callback: StoreCallback<number>): unknown;
  clear?(callback?: StoreCallback): unknown;
}

/** What the migration needs of an old app's store: `get`, and `destroy` unless the old records stay. */
export type OldSessionStore = Pick<ExpressSessionStore, 'get'> &
  Partial<Pick<ExpressSessionStore, 'destroy'>>;

/**
 * Calls a store method with a callback and resolves to what it calls back with. A store that also
 * returns a promise and rejects it (without calling back) rejects too; one that throws, as well.
 */
export function callStore<T>(
  store: object,
  method: string,
  args: readonly unknown[],
): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const callback: StoreCallback<T> = (error, value) => (error ? reject(error) : resolve(value));
    let returned: unknown;
    try {
      returned = (store as Record<string, (...a: unknown[]) => unknown>)[method](...args, callback);
    } catch (error) {
      reject(error);
      return;
    }
    if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') {
      (returned as PromiseLike<unknown>).then(undefined, reject);
    }
  });
}

/**
 * `store.get(id)`: the session, or undefined for none. An `ENOENT` error means none, as express-session
 * and @fastify/session read it (file stores answer so).
 */
export async function getSession(store: OldSessionStore, id: string): Promise<unknown> {
  try {
    return (await callStore<unknown>(store, 'get', [id])) ?? undefined;
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Whether `value` has the named methods. */
export function hasFunctions(value: unknown, ...names: string[]): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
  );
}
