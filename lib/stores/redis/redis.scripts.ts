/**
 * The Lua scripts of the redis store. Each runs atomically in Redis on a session's hash (KEYS[1]);
 * on one node (a single Redis, a Sentinel group's master) they also keep the user index of the
 * session's user (its keys declared after the hash), so a binding, a retirement or a deletion and
 * the index change together. On a Cluster the index lives in other slots: the store keeps it around
 * these scripts with the index script (redis.index-scripts.ts), and they only check the binding.
 *
 * A script that finds the session bound to another user than the store declared (`expect`) writes
 * nothing and answers {-2, the user's JSON}: the store tries again with that user's index.
 */
import { INDEX_LUA } from './redis.index-scripts.js';
import {
  bindingOf,
  type Binding,
  ACTIVE,
  CREATED,
  DATA,
  DATA_ESCAPED,
  FLASH,
  FLASH_ESCAPED,
  POLICY,
  RETIRED,
  SIZE,
  USER,
  USER_ID,
} from './redis.record.js';

/**
 * The index part of the apply script, on one node, after the change set was read. The ARGV after
 * expect is one string of words split at spaces (indexWords()): id, now, the entry's score
 * (indexScore(), never lowered), signedInAt, max ('' none), onLimit, replaces, until and its ttl (the
 * tombstones of sessions the limit retires), then a count and the ids of sessions whose hashes are
 * declared (to be checked against the limit). Without them (a bound session's write whose entry's
 * score is still ahead of its expiry) the index is left as it is. KEYS after the hash: the index of
 * `expect` (if any), then the index of the user bound to (if another), then those hashes. A binding
 * past max answers {-3, the user's other live ids} to have them declared: each is then checked (a
 * stale entry is not counted, and leaves), and the limit rejects ({-4}) or retires the earliest
 * sign-ins. Ids that joined since (bindings made meanwhile, in this same kind of step) count as live
 * undeclared; only one the limit would retire is asked for again.
 */
const INDEX_PART = `
local indexed = ARGV[i + 4] ~= nil
local A = {}
if indexed then for w in string.gmatch(ARGV[i + 4] .. ' ', '([^ ]*) ') do A[#A + 1] = w end end
local retire, stale, member = {}, {}, {}
local id, now, nx
if indexed then
  id, now = A[1], A[2]
  local k = 2
  if expect ~= '' then k = 4 end
  if nxt ~= '' then
    if nxt == expect then nx = 2 else nx = k; k = k + 2 end
  end
  for j = 1, tonumber(A[10] or '0') do member[A[10 + j]] = KEYS[k + j - 1] end
  local max = tonumber(A[5])
  if max and bind then
    local list = others(KEYS[nx], now, id, A[7])
    if #list >= max then
      local valid, fresh = {}, {}
      for _, m in ipairs(list) do
        if member[m] then
          if redis.call('HGET', member[m], '${USER_ID}') == nxt then valid[#valid + 1] = m else stale[#stale + 1] = m end
        elseif tonumber(A[10] or '0') > 0 then
          valid[#valid + 1] = m
          fresh[m] = true
        else
          return tagged(-3, list)
        end
      end
      if #valid >= max then
        if A[6] == 'reject' then return {-4} end
        retire = earliest(KEYS[nx + 1], valid, #valid - max + 1)
        for _, m in ipairs(retire) do if fresh[m] then return tagged(-3, list) end end
      end
    end
  end
end`;

/** What the apply script writes to the index on one node, once the session is written. */
const INDEX_WRITE = `
if indexed then
  if cur ~= '' and cur ~= nxt then
    unindex(KEYS[2], KEYS[3], nil, id)
    trim(KEYS[2], KEYS[3], nil, now, 0)
    follow(KEYS[2], KEYS[3], nil, now, 0)
  end
  if nxt ~= '' then
    local x, s = KEYS[nx], KEYS[nx + 1]
    for _, m in ipairs(stale) do unindex(x, s, nil, m) end
    for _, m in ipairs(retire) do
      redis.call('DEL', member[m])
      redis.call('HSET', member[m], '${RETIRED}', A[8])
      redis.call('PEXPIRE', member[m], A[9])
      unindex(x, s, nil, m)
    end
    raise(x, id, A[3])
    if bind then redis.call('ZADD', s, A[4], id) else redis.call('ZADD', s, 'NX', A[4], id) end
    trim(x, s, nil, now, 0)
    follow(x, s, nil, now, 0)
  end
end`;

/**
 * Applies a change set to the session hash in one step. ARGV: createdAt, lastActivity, ttl (ms),
 * clearData, clearFlash, create, maxSize, then four lists, each a count followed by its items:
 * deleted data fields; data field/JSON pairs; cleared flash field/JSON-the-request-saw pairs; flash
 * field/JSON pairs. Then the binding: policy ('' unchanged, '-' none, or its JSON), user ('',
 * '-' unbind, or the SessionUser's JSON), that user's key (userKey()), expect (the user the store
 * believes the session is bound to, '' none). On one node, when an index is involved, the index
 * part follows (see below). Returns 1 when applied, 0 when refused (not live and not to be
 * created), {-1, size} when the session would pass maxSize, {-2, user JSON}, {-3, ids} or {-4}
 * (the limit): nothing is written in any of these; {2, ids...} when applied and those ids retired.
 *
 * The first pass only reads: the size the session would have (bytes of fields and values, kept in
 * the hash as SIZE and updated by each write, so its cost grows with the change, not the session).
 */
export const APPLY_SCRIPT = `${INDEX_LUA}
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
i = i + 2 * n + 1
local policy, user, userId, expect = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
local cur = redis.call('HGET', key, '${USER_ID}') or ''
if cur ~= '' and cur ~= expect then return {-2, redis.call('HGET', key, '${USER}')} end
local bind = user ~= '' and user ~= '-'
local nxt = cur
if user == '-' then nxt = '' elseif bind then nxt = userId end
${INDEX_PART}
if size > tonumber(ARGV[7]) then return {-1, size} end
for _, field in ipairs(order) do
  if after[field] then redis.call('HSET', key, field, after[field]) else redis.call('HDEL', key, field) end
end
redis.call('HSET', key, '${SIZE}', size)
redis.call('HSETNX', key, '${CREATED}', ARGV[1])
redis.call('HSET', key, '${ACTIVE}', ARGV[2])
if policy == '-' then redis.call('HDEL', key, '${POLICY}') elseif policy ~= '' then redis.call('HSET', key, '${POLICY}', policy) end
if user == '-' then redis.call('HDEL', key, '${USER_ID}', '${USER}') elseif bind then redis.call('HSET', key, '${USER_ID}', userId, '${USER}', user) end
redis.call('PEXPIRE', key, ARGV[3])
${INDEX_WRITE}
if #retire > 0 then return tagged(2, retire) end
return 1
`;

/**
 * Retires a live session: returns its fields and leaves a tombstone for ARGV[1] ms, holding ARGV[2]
 * (when it ends, ms since the epoch, read against the app's clock); nil when not live. On one node
 * ARGV goes on with expect, id and now, and KEYS with the index of `expect`: the id leaves it in the
 * same step.
 */
export const RETIRE_SCRIPT = `${INDEX_LUA}
local key = KEYS[1]
if redis.call('HEXISTS', key, '${ACTIVE}') == 0 or redis.call('HEXISTS', key, '${RETIRED}') == 1 then
  return false
end
local cur = redis.call('HGET', key, '${USER_ID}')
local indexed = ARGV[3] ~= nil
if indexed and cur and cur ~= ARGV[3] then return {-2, redis.call('HGET', key, '${USER}')} end
local fields = redis.call('HGETALL', key)
redis.call('DEL', key)
redis.call('HSET', key, '${RETIRED}', ARGV[2])
redis.call('PEXPIRE', key, ARGV[1])
if indexed and cur then
  unindex(KEYS[2], KEYS[3], nil, ARGV[4])
  trim(KEYS[2], KEYS[3], nil, ARGV[5], 0)
  follow(KEYS[2], KEYS[3], nil, ARGV[5], 0)
end
return fields
`;

/**
 * Deletes a session (or tombstone) and answers the user key it was bound to ('' none). On one node
 * ARGV holds expect, id and now, and KEYS the index of `expect`: the id leaves it in the same step.
 */
export const DESTROY_SCRIPT = `${INDEX_LUA}
local key = KEYS[1]
local cur = redis.call('HGET', key, '${USER_ID}')
local indexed = ARGV[1] ~= nil
if indexed and cur and cur ~= ARGV[1] then return {-2, redis.call('HGET', key, '${USER}')} end
redis.call('DEL', key)
if indexed and cur then
  unindex(KEYS[2], KEYS[3], nil, ARGV[2])
  trim(KEYS[2], KEYS[3], nil, ARGV[3], 0)
  follow(KEYS[2], KEYS[3], nil, ARGV[3], 0)
end
return cur or ''
`;

/** What the apply script answered (the retire and destroy scripts answer 'bound' the same way). */
export type ApplyAnswer =
  | { kind: 'applied'; retired: string[] }
  | { kind: 'refused' }
  | { kind: 'too-large'; size: number }
  | { kind: 'bound'; binding: Binding | undefined }
  | { kind: 'declare'; ids: string[] }
  | { kind: 'limit' };

export function applyAnswer(answer: unknown): ApplyAnswer {
  if (answer === 1) return { kind: 'applied', retired: [] };
  if (answer === 0) return { kind: 'refused' };
  const [code, ...rest] = answer as [number, ...string[]];
  if (code === 2) return { kind: 'applied', retired: rest };
  if (code === -1) return { kind: 'too-large', size: Number(rest[0]) };
  if (code === -2) return boundTo(rest[0]);
  if (code === -3) return { kind: 'declare', ids: rest };
  return { kind: 'limit' };
}

/** A script's {-2, user JSON}: the session is bound to that user (none, when it has no JSON). */
export function boundTo(json: string | undefined): { kind: 'bound'; binding: Binding | undefined } {
  return { kind: 'bound', binding: json ? bindingOf(JSON.parse(json)) : undefined };
}

/** Whether a script answered {-2, ...}: bound to another user than the store declared. */
export function isBound(answer: unknown): answer is [-2, string?] {
  return Array.isArray(answer) && answer[0] === -2;
}
