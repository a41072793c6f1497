namespace ServerlessWs.Core.Redis;

/// <summary>
/// The atomic steps of <see cref="RedisSessionStore"/>, one Lua file each under <c>WsCore/Redis/Scripts/</c>
/// (embedded in the assembly), each starting with its KEYS, ARGV and reply. Each touches the keys of one client
/// (owner, log, groups), of one group (members, counter, log) or one key of the upstream streams: one hash slot. Integers go out through
/// <c>%.0f</c> because Lua's default number format would turn a 16-digit epoch into exponent notation.
/// </summary>
internal static class SessionScripts
{
    /// <summary>Claims an id: a new session, or a resume with its replay read in the same step.</summary>
    public static readonly RedisScript Claim = Load("claim");

    /// <summary>Releases a claim, fenced by its epoch.</summary>
    public static readonly RedisScript Release = Load("release");

    /// <summary>Cleanup's release of a dead server's entry, only while that server still owns it.</summary>
    public static readonly RedisScript ReleaseIfOwnedBy = Load("release-if-owned-by");

    /// <summary>Appends a direct message to a known client's log.</summary>
    public static readonly RedisScript Append = Load("append");

    /// <summary>Reads a client's log after a stream id, with its seq and epoch.</summary>
    public static readonly RedisScript Read = Load("read");

    /// <summary>Adds a group to a known client's groups, within the per-client limit.</summary>
    public static readonly RedisScript Join = Load("join");

    /// <summary>Re-asserts a claim after Redis came back (the epoch decides).</summary>
    public static readonly RedisScript Reassert = Load("reassert");

    /// <summary>Adds a member to a group and reads the group's gseq.</summary>
    public static readonly RedisScript GroupJoin = Load("group-join");

    /// <summary>Sets when a member's membership lapses (its session's expiry once released, never while connected).</summary>
    public static readonly RedisScript GroupMemberLapses = Load("group-member-lapses");

    /// <summary>Appends one message to a group's own log whatever the member count.</summary>
    public static readonly RedisScript GroupAppend = Load("group-append");

    /// <summary>Reads a group's log after a stream id, with its gseq.</summary>
    public static readonly RedisScript GroupRead = Load("group-read");

    /// <summary>Appends an event to an upstream partition unless the partition is full.</summary>
    public static readonly RedisScript UpstreamAppend = Load("upstream-append");

    /// <summary>Takes, renews or gives back a dispatcher's lease (compared by its token).</summary>
    public static readonly RedisScript Lease = Load("lease");

    private static RedisScript Load(string name)
    {
        var resource = $"ServerlessWs.Core.Redis.Scripts.{name}.lua";
        using var stream = typeof(SessionScripts).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The script {resource} is missing from the build.");
        using var reader = new StreamReader(stream);
        return new RedisScript(reader.ReadToEnd());
    }
}
