/**
 * How deeply a session value may nest objects and arrays (`{}` and `[]` are one level each, so
 * `{ a: [1] }` is two). JSON.stringify and JSON.parse recurse once per level, and the stores run
 * them deep in a request's stack: past about 4 100 levels they overflow it (a 503), and a session
 * the file driver stored 1 930 levels deep failed every later write (docs/reliability.md has the
 * figures). 64 is far below that on every driver and far above what sessions hold (a user, a
 * cart, a form's state).
 */
export const MAX_DEPTH = 64;

const TOO_DEEP = `it nests objects and arrays more than ${MAX_DEPTH} levels deep`;

/**
 * Throws a TypeError naming the key when JSON cannot keep the value as it is: functions, symbols,
 * BigInt, circular structures, non-finite numbers, Map/Set and other values JSON would silently
 * empty, undefined in an array (stored as null), a toJSON() that returns undefined or something
 * JSON cannot keep, an invalid Date, and values nested more than MAX_DEPTH levels. Plain objects,
 * arrays, strings, finite numbers, booleans, null and values whose toJSON() gives one of them (such
 * as a Date) pass. An undefined property of an object passes: JSON leaves it out, and reading it
 * back gives undefined again. The walk stops at MAX_DEPTH, so the check itself cannot overflow the
 * stack, however deep the value.
 */
export function assertJsonValue(key: string, value: unknown): void {
  let problem: string | undefined;
  try {
    problem = check(value, key, new Set<object>(), 0);
  } catch (error) {
    problem = `reading it threw (${error instanceof Error ? error.message : String(error)})`;
  }
  if (problem) {
    throw new TypeError(`session key '${key}': ${problem}; session values must survive JSON`);
  }
}

/** `value` as JSON.stringify sees it under `key`, inside `depth` objects and arrays. */
function check(value: unknown, key: string, seen: Set<object>, depth: number): string | undefined {
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
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') return checkContainer(obj, seen, depth);
  if (obj instanceof Date && Number.isNaN(obj.getTime())) return 'an invalid Date would be stored as null';
  // JSON.stringify stores what toJSON(key) returns, as it is (its own toJSON is not called).
  const json: unknown = toJSON.call(obj, key);
  if (json === undefined) return 'its toJSON() returned undefined, so nothing would be stored';
  const problem =
    typeof json === 'object' && json !== null
      ? checkContainer(json, seen, depth)
      : check(json, key, seen, depth + 1);
  return problem === undefined || problem === TOO_DEEP ? problem : `its toJSON() gave: ${problem}`;
}

function checkContainer(obj: object, seen: Set<object>, depth: number): string | undefined {
  if (seen.has(obj)) return 'a circular structure cannot be stored';
  if (obj instanceof Map || obj instanceof Set || obj instanceof WeakMap || obj instanceof WeakSet) {
    return `a ${obj.constructor.name} would be stored as {}`;
  }
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  seen.add(obj);
  const bag = obj as Record<string, unknown>;
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const item: unknown = obj[i];
      const problem =
        item === undefined ? 'undefined would be stored as null' : check(item, String(i), seen, depth + 1);
      if (problem) return problem === TOO_DEEP ? problem : `[${i}]: ${problem}`;
    }
  } else {
    for (const k of Object.keys(obj)) {
      const problem = check(bag[k], k, seen, depth + 1);
      if (problem) return problem === TOO_DEEP ? problem : `.${k}: ${problem}`;
    }
  }
  for (const s of Object.getOwnPropertySymbols(obj)) {
    if (Object.prototype.propertyIsEnumerable.call(obj, s)) return 'a symbol key cannot be stored';
  }
  seen.delete(obj);
  return undefined;
}

/**
 * Bags are made by `new Bag()`: their prototype is an empty object with no prototype of its own, so
 * Object.prototype is not in their chain ('__proto__' is no accessor there), and, unlike
 * `Object.create(null)` objects, V8 keeps them in its fast object layout (a null-prototype object
 * starts as a dictionary, on the slow path of every read, write and key walk).
 */
const Bag = function Bag() {} as unknown as new () => Record<string, unknown>;
Bag.prototype = Object.freeze(Object.create(null) as object) as Record<string, unknown>;

/**
 * A bag of session keys with Object.prototype nowhere in its chain: '__proto__', 'constructor' and
 * the like are ordinary own keys in it, and no key can give it (or its reader) a prototype. Copies
 * `from`'s own keys.
 */
export function keyBag(from?: Record<string, unknown>): Record<string, unknown> {
  const bag = new Bag();
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

/**
 * A plain object with `from`'s own keys, for JSON.stringify alone: '__proto__' is an own key of it
 * (putKey), but it has Object.prototype, so it is never read from or iterated with for-in.
 */
export function jsonBag(from: Record<string, unknown>): Record<string, unknown> {
  const bag: Record<string, unknown> = {};
  for (const key of Object.keys(from)) putKey(bag, key, from[key]);
  return bag;
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
