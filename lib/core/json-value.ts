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
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer)
    return 'binary data cannot be stored (encode it first)';
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
