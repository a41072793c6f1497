namespace ServerlessWs.Core.Redis;

/// <summary>
/// The per-client atomic steps of <see cref="RedisSessionStore"/>. Each touches only keys of one client
/// (KEYS: owner, log, groups: one hash slot). Integers go out through <c>%.0f</c> because Lua's default number
/// format would turn a 16-digit epoch into exponent notation.
/// </summary>
internal static class SessionScripts
{
    /// <summary>
    /// ARGV: presented token hash (may be empty), new token hash, server, now (ms), first stream id to replay.
    /// Returns {0} refused, {1, epoch, 0, '', {}} created, {2, epoch, seq, previousServer, entries, groups} resumed,
    /// where entries are the log's from that id on and groups the session's: a resume reads its replay in the same
    /// step as its claim.
    /// The epoch is the larger of the stored one plus one and Redis's clock in microseconds, so it grows on every
    /// claim and a claim made after the data was lost still beats every claim made before.
    /// </summary>
    public static readonly RedisScript Claim = new("""
        local t = redis.call('TIME')
        local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local stored = redis.call('HGET', KEYS[1], 'tokenHash')
        if stored then
          local presented = ARGV[1]
          if #presented ~= #stored then return {0} end
          local diff = 0
          for i = 1, #stored do
            diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(presented, i)))
          end
          if diff ~= 0 then return {0} end
          local previous = redis.call('HGET', KEYS[1], 'server')
          local epoch = math.max(tonumber(redis.call('HGET', KEYS[1], 'epoch')) + 1, clock)
          redis.call('HSET', KEYS[1], 'server', ARGV[3], 'epoch', string.format('%.0f', epoch), 'connectedAt', ARGV[4])
          redis.call('PERSIST', KEYS[1])
          redis.call('PERSIST', KEYS[2])
          redis.call('PERSIST', KEYS[3])
          return {2, epoch, tonumber(redis.call('HGET', KEYS[1], 'seq')), previous, redis.call('XRANGE', KEYS[2], ARGV[5], '+'),
            redis.call('SMEMBERS', KEYS[3])}
        end
        redis.call('DEL', KEYS[2], KEYS[3])
        redis.call('HSET', KEYS[1], 'server', ARGV[3], 'epoch', string.format('%.0f', clock), 'connectedAt', ARGV[4],
          'tokenHash', ARGV[2], 'seq', 0)
        return {1, clock, 0, '', {}}
        """);

    /// <summary>
    /// ARGV: epoch, session TTL (ms). Returns {server, groups}: the server that held the id when released and the
    /// session's groups (whose memberships now lapse with it); false when a newer claim (or nothing) owns it.
    /// </summary>
    public static readonly RedisScript Release = new("""
        if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
        local server = redis.call('HGET', KEYS[1], 'server')
        if server == '' then return false end
        redis.call('HSET', KEYS[1], 'server', '')
        for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
        return {server, redis.call('SMEMBERS', KEYS[3])}
        """);

    /// <summary>
    /// ARGV: server, session TTL (ms). Cleanup's release of a dead server's entry: only while that server still owns
    /// it, so a client that reconnected elsewhere is never touched. Returns {epoch, groups}, or false.
    /// </summary>
    public static readonly RedisScript ReleaseIfOwnedBy = new("""
        if redis.call('HGET', KEYS[1], 'server') ~= ARGV[1] then return false end
        redis.call('HSET', KEYS[1], 'server', '')
        for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
        return {tonumber(redis.call('HGET', KEYS[1], 'epoch')), redis.call('SMEMBERS', KEYS[3])}
        """);

    /// <summary>
    /// A direct message. ARGV: from, data, now (ms), log length.
    /// Returns {0} unknown, {1, seq} disconnected, {2, seq, server, epoch} connected.
    /// </summary>
    public static readonly RedisScript Append = new("""
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
        """);

    /// <summary>ARGV: first stream id to read. Returns {seq, epoch, entries} or {0, 0, {}} when unknown.</summary>
    public static readonly RedisScript Read = new("""
        local meta = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
        if not meta[1] then return {0, 0, {}} end
        return {tonumber(meta[1]), tonumber(meta[2]), redis.call('XRANGE', KEYS[2], ARGV[1], '+')}
        """);

    /// <summary>
    /// ARGV: group, most groups per client. Adds it to a known client's groups (with the session's TTL if
    /// disconnected); 1 when added (or already there), 0 when the client is unknown, 2 when it is in too many groups.
    /// </summary>
    public static readonly RedisScript Join = new("""
        local server = redis.call('HGET', KEYS[1], 'server')
        if not server then return 0 end
        if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[2]) then return 2 end
        redis.call('SADD', KEYS[3], ARGV[1])
        if server == '' then
          local ttl = redis.call('PTTL', KEYS[1])
          if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
        end
        return 1
        """);

    /// <summary>
    /// ARGV: server, epoch, token hash, now (ms). After Redis came back: 1 kept (this claim still owns the id),
    /// 2 restored (the entry was lost and is written again; its log is gone), 0 lost (a newer claim owns it).
    /// </summary>
    public static readonly RedisScript Reassert = new("""
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
        """);

    /// <summary>
    /// KEYS: the group's members, counter, log (one slot). ARGV: clientId, now (ms), most members. Prunes lapsed
    /// members, adds this one as connected (unless the group is full) and returns the group's gseq: the joined client
    /// is owed every message after it. -1 when the group already has the most members it may have.
    /// </summary>
    public static readonly RedisScript GroupJoin = new("""
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
        redis.call('ZADD', KEYS[1], 'inf', ARGV[1])
        return tonumber(redis.call('GET', KEYS[2]) or '0')
        """);

    /// <summary>
    /// KEYS: the group's members. ARGV: clientId, when the membership lapses (ms, or 'inf' while connected). Sets it
    /// only for a member (XX): a release or a resume never re-adds a client that left.
    /// </summary>
    public static readonly RedisScript GroupMemberLapses = new("""
        return redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
        """);

    /// <summary>
    /// KEYS: the group's members, counter, log (one slot). ARGV: from, data, now (ms), log length, log age (ms),
    /// '1' for the broadcast group (every connected client is a member; no member set). One message, one entry,
    /// whatever the member count (contract v2); members whose session lapsed are pruned, never counted.
    /// Returns {0} when no member but the sender, else {gseq, recipients}.
    /// </summary>
    public static readonly RedisScript GroupAppend = new("""
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
        """);

    /// <summary>KEYS: the group's counter, log. ARGV: first stream id to read. Returns {gseq, entries}.</summary>
    public static readonly RedisScript GroupRead = new("""
        return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('XRANGE', KEYS[2], ARGV[1], '+')}
        """);
}
