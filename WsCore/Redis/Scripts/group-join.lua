-- GroupJoin
-- KEYS: 1 the group's members (sorted set scored by when each membership lapses), 2 counter, 3 log (slot {g:<group>}).
-- ARGV: clientId, now (ms), most members. Prunes lapsed members, adds this one as connected (unless the group is
-- full) and returns the group's gseq: the joined client is owed every message after it. -1 when the group already
-- has the most members it may have.

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call('ZADD', KEYS[1], 'inf', ARGV[1])
return tonumber(redis.call('GET', KEYS[2]) or '0')
