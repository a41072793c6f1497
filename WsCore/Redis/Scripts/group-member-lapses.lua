-- GroupMemberLapses
-- KEYS: 1 the group's members (slot {g:<group>}).
-- ARGV: clientId, when the membership lapses (ms, or 'inf' while connected). Sets it only for a member (XX): a
-- release or a resume never re-adds a client that left. Returns the number added (always 0).

return redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
