-- Lease
-- KEYS: 1 the lease (a string; slot of what it guards).
-- One holder at a time, told apart by a token no other holder has. ARGV: token, time to live in ms (0: give back).
-- With a time to live: takes the lease when free, or renews it when the token holds it. With 0: deletes it when the
-- token holds it.
-- Returns 1 when the token holds the lease (or held it and gave it back), 0 when another holds it.

local holder = redis.call('GET', KEYS[1])
if ARGV[2] == '0' then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
  return 0
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
