/**
 * The user index in Lua. A user's index is two sorted sets under one hash tag (indexKeys()): `x`,
 * the user's session ids scored by when they expire (an upper bound, indexScore(), that only rises,
 * so a session's writes need not all touch the index), and `s`, the same ids scored by when they
 * were signed in, the order 'revoke-oldest' retires them in, read in Redis without the sessions'
 * hashes (on a Cluster those live in other slots). On a Cluster a third set, `p`, holds the
 * bindings made lately (reserved, perhaps not written yet), scored by when they were reserved or
 * settled. Scores and `now` are the app's clock; every write that touches an index drops its expired
 * members and sets its keys to expire with their latest member.
 */
import { USER_ID } from './redis.record.js';

/** Functions of the index, shared by the scripts that keep it; `p` is nil where there is none. */
export const INDEX_LUA = `
local function unindex(x, s, p, id)
  redis.call('ZREM', x, id)
  redis.call('ZREM', s, id)
  if p then redis.call('ZREM', p, id) end
end
-- drops the expired members (and, from p, reservations older than the grace)
local function trim(x, s, p, now, grace)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', x, '-inf', now)) do unindex(x, s, p, id) end
  if p then redis.call('ZREMRANGEBYSCORE', p, '-inf', tonumber(now) - tonumber(grace)) end
end
-- the index keys expire with their latest member (p with its latest binding's grace)
local function follow(x, s, p, now, grace)
  local last = redis.call('ZRANGE', x, -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', x, s)
    if p then redis.call('DEL', p) end
    return
  end
  local ttl = math.max(1, math.ceil(tonumber(last[2]) - tonumber(now)))
  redis.call('PEXPIRE', x, ttl)
  redis.call('PEXPIRE', s, ttl)
  if p then redis.call('PEXPIRE', p, grace) end
end
-- the user's live sessions but id and replaces
local function others(x, now, id, replaces)
  local list = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', x, '(' .. now, '+inf')) do
    if m ~= id and m ~= replaces then list[#list + 1] = m end
  end
  return list
end
-- the count of list signed in earliest
local function earliest(s, list, count)
  local by = {}
  for _, m in ipairs(list) do by[#by + 1] = {tonumber(redis.call('ZSCORE', s, m) or '0'), m} end
  table.sort(by, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i = 1, count do out[i] = by[i][2] end
  return out
end
-- the member's score, raised to score (never lowered: ZADD GT without needing Redis 6.2)
local function raise(x, id, score)
  local was = redis.call('ZSCORE', x, id)
  if not was or tonumber(score) > tonumber(was) then redis.call('ZADD', x, score, id) end
end
local function tagged(code, list)
  table.insert(list, 1, code)
  return list
end
`;

/**
 * One user's index, on its own (KEYS x, s, p): the steps of the Cluster's protocol, and the pruning
 * of what a read found stale on every kind of Redis. ARGV: op, now, grace (ms a reservation is in
 * flight), then by op:
 *
 * - reserve: id, score, signedInAt, bind ('1': a binding, in flight until settled; '0': a
 *   touch, whose score only grows), max ('' none), onLimit, replaces, validated. Counts the user's
 *   other live sessions and reserves the entry in one step; past max it answers {-3, ids} until the
 *   caller has validated them against their hashes ('1'), then {-4} ('reject', nothing written) or
 *   {1, ids to retire...} (the earliest sign-ins, left in the index until they are retired).
 * - settle: id, score, signedInAt, retired ids...: after the session was written: the entry
 *   is there (again, had a read dropped it) and its binding touched now; the retired ids leave.
 * - remove: ids...: sessions retired, destroyed or bound elsewhere.
 * - drop: user, since, ids...: entries a read (made at `since`) found with no live session of
 *   this user's. With their hashes declared (KEYS[4...], one node) each is checked again here; on
 *   a Cluster an entry whose binding was reserved or settled within the grace before that read is
 *   kept: its session may be written after the read looked.
 */
export const INDEX_SCRIPT = `${INDEX_LUA}
local x, s, p = KEYS[1], KEYS[2], KEYS[3]
local op, now, grace = ARGV[1], ARGV[2], ARGV[3]
local out = 1
if op == 'reserve' then
  local id, max = ARGV[4], tonumber(ARGV[8])
  local retire = {}
  if max then
    local list = others(x, now, id, ARGV[10])
    if #list >= max then
      if ARGV[11] ~= '1' then return tagged(-3, list) end
      if ARGV[9] == 'reject' then return {-4} end
      retire = earliest(s, list, #list - max + 1)
    end
  end
  trim(x, s, p, now, grace)
  raise(x, id, ARGV[5])
  if ARGV[7] == '1' then
    redis.call('ZADD', s, ARGV[6], id)
    redis.call('ZADD', p, now, id)
  else
    redis.call('ZADD', s, 'NX', ARGV[6], id)
  end
  out = tagged(1, retire)
elseif op == 'settle' then
  local id = ARGV[4]
  redis.call('ZADD', p, now, id)
  raise(x, id, ARGV[5])
  redis.call('ZADD', s, ARGV[6], id)
  for i = 7, #ARGV do unindex(x, s, p, ARGV[i]) end
  trim(x, s, p, now, grace)
elseif op == 'remove' then
  for i = 4, #ARGV do unindex(x, s, p, ARGV[i]) end
  trim(x, s, p, now, grace)
elseif op == 'drop' then
  local floor = tonumber(ARGV[5]) - tonumber(grace)
  for i = 6, #ARGV do
    local id, hash = ARGV[i], KEYS[i - 2]
    local live = hash and redis.call('HGET', hash, '${USER_ID}') == ARGV[4]
    local flight = tonumber(redis.call('ZSCORE', p, id) or '-1') > floor
    if not live and not flight then unindex(x, s, p, id) end
  end
  trim(x, s, p, now, grace)
end
follow(x, s, p, now, grace)
return out
`;
