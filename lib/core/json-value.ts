/**
 * Throws a TypeError naming the key when JSON cannot keep the value as it is: functions, symbols,
 * BigInt, circular structures, non-finite numbers, Map/Set and other values JSON would silently
 * empty. Plain objects, arrays, strings, finite numbers, booleans, null and values with toJSON
 * (such as Date) pass.
 */
export function assertJsonValue(key: string, value: unknown): void {
  const problem = check(value, new Set<object>(), 0);
  if (problem) {
    throw new TypeError(`session key '${key}': ${problem}; session values must survive JSON`);
  }
}

function check(value: unknown, seen: Set<object>, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a finite number`;
    case 'undefined':
      return depth === 0 ? 'undefined cannot be stored (use delete())' : undefined;
    case 'function':
      return 'a function cannot be stored';
    case 'symbol':
      return 'a symbol cannot be stored';
    case 'bigint':
      return 'a BigInt cannot be stored';
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer)
    return 'binary data cannot be stored (encode it first)';
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return undefined;
  if (seen.has(obj)) return 'a circular structure cannot be stored';
  if (obj instanceof Map || obj instanceof Set || obj instanceof WeakMap || obj instanceof WeakSet) {
    return `a ${obj.constructor.name} would be stored as {}`;
  }
  seen.add(obj);
  for (const k of Object.keys(obj)) {
    const problem = check((obj as Record<string, unknown>)[k], seen, depth + 1);
    if (problem) return Array.isArray(obj) ? `[${k}]: ${problem}` : `.${k}: ${problem}`;
  }
  for (const s of Object.getOwnPropertySymbols(obj)) {
    if (Object.prototype.propertyIsEnumerable.call(obj, s)) return 'a symbol key cannot be stored';
  }
  seen.delete(obj);
  return undefined;
}

/**
 * A bag of session keys with no prototype: '__proto__', 'constructor' and the like are ordinary own
 * keys in it, and no key can give it (or its reader) a prototype. Copies `from`'s own keys.
 */
export function keyBag(from?: Record<string, unknown>): Record<string, unknown> {
  const bag = Object.create(null) as Record<string, unknown>;
  if (from !== undefined) for (const key of Object.keys(from)) bag[key] = from[key];
  return bag;
}

/**
 * `bag[key] = value`, except that '__proto__' becomes an own key even on an object that has
 * Object.prototype (a record parsed from JSON): assigning it would set the prototype instead.
 */
export function putKey(bag: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(bag, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    bag[key] = value;
  }
}

/** A bag of keys: an object that is not null and not an array. */
export function isBag(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a bag has no own enumerable key (one with no prototype included). */
export function isEmptyBag(bag: object): boolean {
  for (const _ in bag) return false;
  return true;
}
