-- ReleaseIfOwnedBy
-- KEYS: 1 owner hash, 2 log stream, 3 groups set, all of one client (slot {c:<clientId>}).
-- ARGV: server, session TTL (ms). Cleanup's release of a dead server's entry: only while that server still owns
-- it, so a client that reconnected elsewhere is never touched. Returns {epoch, groups}, or false.

if redis.call('HGET', KEYS[1], 'server') ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'server', '')
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return {tonumber(redis.call('HGET', KEYS[1], 'epoch')), redis.call('SMEMBERS', KEYS[3])}
