-- Release
-- KEYS: 1 owner hash, 2 log stream, 3 groups set, all of one client (slot {c:<clientId>}).
-- ARGV: epoch, session TTL (ms). Returns {server, groups}: the server that held the id when released and the
-- session's groups (whose memberships now lapse with it); false when a newer claim (or nothing) owns it.

if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
local server = redis.call('HGET', KEYS[1], 'server')
if server == '' then return false end
redis.call('HSET', KEYS[1], 'server', '')
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return {server, redis.call('SMEMBERS', KEYS[3])}
