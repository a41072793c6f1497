-- GroupJoin
-- KEYS: the group's members, counter, log (one slot). ARGV: clientId. Adds the member and returns the group's
-- gseq: the joined client is owed every message after it.

redis.call('SADD', KEYS[1], ARGV[1])
return tonumber(redis.call('GET', KEYS[2]) or '0')
