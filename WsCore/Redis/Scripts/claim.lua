-- Claim
-- KEYS: 1 owner hash, 2 log stream, 3 groups set, all of one client (slot {c:<clientId>}).
-- ARGV: presented token hash (may be empty), new token hash, server, now (ms), first stream id to replay.
-- Returns {0} refused, {1, epoch, 0, '', {}} created, {2, epoch, seq, previousServer, entries, groups} resumed,
-- where entries are the log's from that id on and groups the session's: a resume reads its replay in the same
-- step as its claim.
-- The epoch is the larger of the stored one plus one and Redis's clock in microseconds, so it grows on every
-- claim and a claim made after the data was lost still beats every claim made before.

local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stored = redis.call('HGET', KEYS[1], 'tokenHash')
if stored then
  local presented = ARGV[1]
  if #presented ~= #stored then return {0} end
  local diff = 0
  for i = 1, #stored do
    diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(presented, i)))
  end
  if diff ~= 0 then return {0} end
  local previous = redis.call('HGET', KEYS[1], 'server')
  local epoch = math.max(tonumber(redis.call('HGET', KEYS[1], 'epoch')) + 1, clock)
  redis.call('HSET', KEYS[1], 'server', ARGV[3], 'epoch', string.format('%.0f', epoch), 'connectedAt', ARGV[4])
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[3])
  return {2, epoch, tonumber(redis.call('HGET', KEYS[1], 'seq')), previous, redis.call('XRANGE', KEYS[2], ARGV[5], '+'),
    redis.call('SMEMBERS', KEYS[3])}
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'server', ARGV[3], 'epoch', string.format('%.0f', clock), 'connectedAt', ARGV[4],
  'tokenHash', ARGV[2], 'seq', 0)
return {1, clock, 0, '', {}}
