-- Join
-- KEYS: 1 owner hash, 2 log stream, 3 groups set, all of one client (slot {c:<clientId>}).
-- ARGV: group, most groups per client. Adds it to a known client's groups (with the session's TTL if
-- disconnected). Returns 1 when added (or already there), 0 when the client is unknown, 2 when it is in too many groups.

local server = redis.call('HGET', KEYS[1], 'server')
if not server then return 0 end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[2]) then return 2 end
redis.call('SADD', KEYS[3], ARGV[1])
if server == '' then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
end
return 1
