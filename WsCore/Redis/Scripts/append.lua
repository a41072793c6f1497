-- Append
-- KEYS: 1 owner hash, 2 log stream, 3 groups set, all of one client (slot {c:<clientId>}).
-- A direct message. ARGV: from, data, now (ms), log length.
-- Returns {0} unknown, {1, seq} disconnected, {2, seq, server, epoch} connected.

local server = redis.call('HGET', KEYS[1], 'server')
if not server then return {0} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], string.format('%.0f', seq) .. '-0', 'f', ARGV[1], 'd', ARGV[2], 't', ARGV[3])
if server == '' then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  return {1, seq}
end
return {2, seq, server, tonumber(redis.call('HGET', KEYS[1], 'epoch'))}
