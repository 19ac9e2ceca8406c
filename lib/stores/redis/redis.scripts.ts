/**
 * The Lua scripts of the redis store and the hash fields they read and write. Each runs atomically
 * in Redis, on one key: a session's hash.
 */

export const DATA = 'd:';
export const FLASH = 'f:';
/**
 * The fields of data and flash keys that hold a lone surrogate, which UTF-8 cannot carry (ioredis
 * would send it as U+FFFD, and '\uD800a' and '\uDC00a' would become one field): the key is kept as
 * its JSON string, which escapes it. Every other key keeps its plain field.
 */
export const DATA_ESCAPED = 'D:';
export const FLASH_ESCAPED = 'F:';
export const CREATED = 'm:c';
export const ACTIVE = 'm:a';
/** Bytes of the data and flash fields (names and JSON values). */
export const SIZE = 'm:s';
/** The one field of a retired id's tombstone. */
export const RETIRED = 'm:r';

/**
 * Applies a change set to the session hash in one step. ARGV: createdAt, lastActivity, ttl (ms),
 * clearData, clearFlash, create, maxSize, then four lists, each a count followed by its items:
 * deleted data fields; data field/JSON pairs; cleared flash field/JSON-the-request-saw pairs; flash
 * field/JSON pairs. Returns 1 when applied, 0 when refused (not live and not to be created), or
 * {-1, size} when the session would pass maxSize: nothing is written in either case.
 *
 * The first pass only reads: the size the session would have (bytes of fields and values, kept in
 * the hash as SIZE and updated by each write, so its cost grows with the change, not the session).
 */
export const APPLY_SCRIPT = `
local key = KEYS[1]
if redis.call('HEXISTS', key, '${RETIRED}') == 1 then return 0 end
if ARGV[6] ~= '1' and redis.call('HEXISTS', key, '${ACTIVE}') == 0 then return 0 end
local clearData, clearFlash = ARGV[4] == '1', ARGV[5] == '1'
-- field -> its value after the change set (false: deleted), and the fields in the order touched
local after, order = {}, {}
local function put(field, value)
  if after[field] == nil then table.insert(order, field) end
  after[field] = value
end
local size = tonumber(redis.call('HGET', key, '${SIZE}') or '-1')
if clearData or clearFlash or size < 0 then
  local sum = 0
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local kind = string.sub(field, 1, 2)
    local data, flash = kind == '${DATA}' or kind == '${DATA_ESCAPED}', kind == '${FLASH}' or kind == '${FLASH_ESCAPED}'
    if data or flash then
      sum = sum + #field + redis.call('HSTRLEN', key, field)
      if (clearData and data) or (clearFlash and flash) then put(field, false) end
    end
  end
  size = sum
end
local i = 8
local n = tonumber(ARGV[i])
for j = i + 1, i + n do put(ARGV[j], false) end
i = i + n + 1
n = tonumber(ARGV[i])
for j = i + 1, i + 2 * n, 2 do put(ARGV[j], ARGV[j + 1]) end
i = i + 2 * n + 1
n = tonumber(ARGV[i])
for j = i + 1, i + 2 * n, 2 do
  local value = after[ARGV[j]]
  if value == nil then value = redis.call('HGET', key, ARGV[j]) end
  if value == ARGV[j + 1] then put(ARGV[j], false) end
end
i = i + 2 * n + 1
n = tonumber(ARGV[i])
for j = i + 1, i + 2 * n, 2 do put(ARGV[j], ARGV[j + 1]) end
for _, field in ipairs(order) do
  if redis.call('HEXISTS', key, field) == 1 then size = size - #field - redis.call('HSTRLEN', key, field) end
  if after[field] then size = size + #field + #after[field] end
end
if size > tonumber(ARGV[7]) then return {-1, size} end
for _, field in ipairs(order) do
  if after[field] then redis.call('HSET', key, field, after[field]) else redis.call('HDEL', key, field) end
end
redis.call('HSET', key, '${SIZE}', size)
redis.call('HSETNX', key, '${CREATED}', ARGV[1])
redis.call('HSET', key, '${ACTIVE}', ARGV[2])
redis.call('PEXPIRE', key, ARGV[3])
return 1
`;

/**
 * Retires a live session: returns its fields and leaves a tombstone for ARGV[1] ms, holding ARGV[2]
 * (when it ends, ms since the epoch, read against the app's clock); nil when not live.
 */
export const RETIRE_SCRIPT = `
local key = KEYS[1]
if redis.call('HEXISTS', key, '${ACTIVE}') == 0 or redis.call('HEXISTS', key, '${RETIRED}') == 1 then
  return false
end
local fields = redis.call('HGETALL', key)
redis.call('DEL', key)
redis.call('HSET', key, '${RETIRED}', ARGV[2])
redis.call('PEXPIRE', key, ARGV[1])
return fields
`;
