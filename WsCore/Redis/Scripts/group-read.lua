-- GroupRead
-- KEYS: the group's counter, log. ARGV: first stream id to read. Returns {gseq, entries}.

return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('XRANGE', KEYS[2], ARGV[1], '+')}
