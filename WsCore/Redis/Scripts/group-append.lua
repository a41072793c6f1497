-- GroupAppend
-- KEYS: 1 the group's members, 2 counter, 3 log (slot {g:<group>}).
-- ARGV: from, data, now (ms), log length, log age (ms), '1' for the broadcast group (every connected client is a
-- member; no member set). One message, one entry, whatever the member count (contract v2); members whose session
-- lapsed are pruned, never counted. Returns {0} when no member but the sender, else {gseq, recipients}.

local recipients = 0
if ARGV[6] ~= '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
  recipients = redis.call('ZCARD', KEYS[1])
  if redis.call('ZSCORE', KEYS[1], ARGV[1]) then recipients = recipients - 1 end
  if recipients <= 0 then return {0} end
end
local gseq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[4], string.format('%.0f', gseq) .. '-0', 'f', ARGV[1], 'd', ARGV[2], 't', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return {gseq, recipients}
