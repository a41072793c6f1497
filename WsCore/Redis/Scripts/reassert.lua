-- Reassert
-- KEYS: 1 owner hash, 2 log stream, 3 groups set, all of one client (slot {c:<clientId>}).
-- ARGV: server, epoch, token hash, now (ms). After Redis came back; returns 1 kept (this claim still owns the id),
-- 2 restored (the entry was lost and is written again; its log is gone), 0 lost (a newer claim owns it).

local stored = redis.call('HGET', KEYS[1], 'epoch')
if not stored then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'server', ARGV[1], 'epoch', ARGV[2], 'connectedAt', ARGV[4], 'tokenHash', ARGV[3], 'seq', 0)
  return 2
end
if tonumber(stored) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'server', ARGV[1], 'epoch', ARGV[2])
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
redis.call('PERSIST', KEYS[3])
return 1
