/**
 * A bounded map of what was used recently, for the caches on the request path: two generations of
 * plain Maps. When the current one holds `half` entries it becomes the previous one and the older
 * one is dropped; a hit in the previous generation moves to the current one. So it holds between
 * `half` and twice `half` entries, and the ones in use stay. A hit costs one Map lookup: lru-cache's
 * `get` cost about as much again on top (its options, its recency list; measured in
 * bench/instr-profile.js on the untouched route with the cookie).
 */
export class RecentMap<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();

  constructor(private readonly half: number) {}

  get(key: K): V | undefined {
    const value = this.current.get(key);
    if (value !== undefined || this.previous.size === 0) return value;
    const old = this.previous.get(key);
    if (old !== undefined) {
      this.previous.delete(key);
      this.set(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    if (this.current.size >= this.half && !this.current.has(key)) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
  }

  delete(key: K): void {
    this.current.delete(key);
    if (this.previous.size > 0) this.previous.delete(key);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/**
 * A copy of a string that shares nothing with the one it came from: a value sliced out of a request
 * header would otherwise keep the whole header alive for as long as a cache holds it, and compares
 * more slowly as a Map key.
 */
export function ownString(value: string): string {
  return JSON.parse(JSON.stringify(value)) as string;
}
