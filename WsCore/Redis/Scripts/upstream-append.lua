-- UpstreamAppend
-- KEYS: 1 one partition of the upstream events (slot {up:<n>}).
-- An event for the application's handler: refused, not trimmed, when the partition is full, so nothing accepted is
-- ever dropped. ARGV: max length (0: no bound, an operator's replay of a dead letter), then the record's field,
-- value pairs (UpstreamRecordCodec).
-- Returns the entry id, or false when the partition already holds max length entries.

local max = tonumber(ARGV[1])
if max > 0 and redis.call('XLEN', KEYS[1]) >= max then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
