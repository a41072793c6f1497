-- Read
-- KEYS: 1 owner hash, 2 log stream of one client (slot {c:<clientId>}).
-- ARGV: first stream id to read. Returns {seq, epoch, entries} or {0, 0, {}} when unknown.

local meta = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
if not meta[1] then return {0, 0, {}} end
return {tonumber(meta[1]), tonumber(meta[2]), redis.call('XRANGE', KEYS[2], ARGV[1], '+')}
