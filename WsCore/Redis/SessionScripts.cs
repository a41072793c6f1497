using System.Globalization;
using ServerlessWs.Core.Sessions;
using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// The atomic steps of <see cref="RedisSessionStore"/>, one Lua file each under <c>WsCore/Redis/Scripts/</c>
/// (embedded in the assembly), each starting with its KEYS, ARGV and reply; the reply is decoded here, next to its
/// script's load. Each touches the keys of one client (owner, log, groups), of one group (members, counter, log) or
/// one key of the upstream streams: one hash slot. Integers go out through <c>%.0f</c> because Lua's default number
/// format would turn a 16-digit epoch into exponent notation.
/// </summary>
internal static class SessionScripts
{
    /// <summary>Claims an id: a new session, or a resume with its replay read in the same step.</summary>
    public static readonly RedisScript<ClaimReply> Claim = Load("claim", reply =>
    {
        var r = (RedisResult[])reply!;
        return (int)r[0] == 0
            ? new ClaimReply(0, 0, 0, null, [], [])
            : new ClaimReply((int)r[0], (long)r[1], (long)r[2], NullIfEmpty((string?)r[3]), Entries(r[4], group: null), r.Length > 5 ? Strings(r[5]) : []);
    });

    /// <summary>Releases a claim, fenced by its epoch: the server that held it and the session's groups, or null.</summary>
    public static readonly RedisScript<(string Server, string[] Groups)?> Release = Load<(string, string[])?>("release", reply =>
        reply.IsNull ? null : ((string)((RedisResult[])reply!)[0]!, Strings(((RedisResult[])reply!)[1])));

    /// <summary>Cleanup's release of a dead server's entry, only while that server still owns it: the epoch and groups, or null.</summary>
    public static readonly RedisScript<(long Epoch, string[] Groups)?> ReleaseIfOwnedBy = Load<(long, string[])?>("release-if-owned-by", reply =>
        reply.IsNull ? null : ((long)((RedisResult[])reply!)[0], Strings(((RedisResult[])reply!)[1])));

    /// <summary>Appends a direct message to a known client's log.</summary>
    public static readonly RedisScript<AppendReply> Append = Load("append", reply =>
    {
        var r = (RedisResult[])reply!;
        return new AppendReply((int)r[0], r.Length > 1 ? (long)r[1] : 0, r.Length > 2 ? (string?)r[2] : null, r.Length > 3 ? (long)r[3] : 0);
    });

    /// <summary>Reads a client's log after a stream id, with its seq and epoch (0 and 0 for an unknown client).</summary>
    public static readonly RedisScript<(long Seq, long Epoch, List<LogEntry> Entries)> Read = Load("read", reply =>
    {
        var r = (RedisResult[])reply!;
        return ((long)r[0], (long)r[1], Entries(r[2], group: null));
    });

    /// <summary>Adds a group to a known client's groups, within the per-client limit: 1 added, 0 unknown client, 2 too many.</summary>
    public static readonly RedisScript<int> Join = Load("join", reply => (int)reply);

    /// <summary>Re-asserts a claim after Redis came back (the epoch decides).</summary>
    public static readonly RedisScript<ReassertOutcome> Reassert = Load("reassert", reply => (ReassertOutcome)(int)reply);

    /// <summary>Adds a member to a group and reads the group's gseq; -1 when the group is full.</summary>
    public static readonly RedisScript<long> GroupJoin = Load("group-join", reply => (long)reply);

    /// <summary>Sets when a member's membership lapses (its session's expiry once released, never while connected).</summary>
    public static readonly RedisScript<long> GroupMemberLapses = Load("group-member-lapses", reply => (long)reply);

    /// <summary>Appends one message to a group's own log whatever the member count: its gseq and recipients, or null with no recipient.</summary>
    public static readonly RedisScript<(long Gseq, long Recipients)?> GroupAppend = Load<(long, long)?>("group-append", reply =>
    {
        var r = (RedisResult[])reply!;
        return r.Length == 1 ? null : ((long)r[0], (long)r[1]);
    });

    /// <summary>Reads a group's log after a stream id, with its gseq. Entries are decoded for <paramref name="group"/> by the caller.</summary>
    public static readonly RedisScript<(long Gseq, RedisResult Entries)> GroupRead = Load("group-read", reply =>
    {
        var r = (RedisResult[])reply!;
        return ((long)r[0], r[1]);
    });

    /// <summary>Appends an event to an upstream partition unless the partition is full: the entry id, or null when full.</summary>
    public static readonly RedisScript<RedisValue> UpstreamAppend = Load("upstream-append", reply => reply.IsNull ? RedisValue.Null : (RedisValue)reply);

    /// <summary>Takes, renews or gives back a dispatcher's lease (compared by its token): true while the token holds it.</summary>
    public static readonly RedisScript<bool> Lease = Load("lease", reply => (int)reply == 1);

    /// <summary>Log entries as a script returns them (XRANGE's shape: id, then field/value pairs; id <c>seq-0</c>).</summary>
    public static List<LogEntry> Entries(RedisResult raw, string? group)
    {
        var items = (RedisResult[])raw!;
        var entries = new List<LogEntry>(items.Length);
        foreach (var item in items)
        {
            entries.Add(Entry((RedisResult[])item!, group));
        }

        return entries;
    }

    private static LogEntry Entry(RedisResult[] raw, string? group)
    {
        var id = (string)raw[0]!;
        var seq = long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
        var fields = (RedisResult[])raw[1]!;
        string from = string.Empty;
        byte[] data = [];
        long appendedAt = 0;
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            switch ((string?)fields[i])
            {
                case "f": from = (string)fields[i + 1]!; break;
                case "d": data = (byte[])fields[i + 1]!; break;
                case "t": appendedAt = (long)fields[i + 1]; break;
            }
        }

        return new LogEntry(seq, from, group, data, appendedAt);
    }

    private static string[] Strings(RedisResult raw) => ((RedisResult[])raw!).Select(g => (string)g!).ToArray();

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static RedisScript<TReply> Load<TReply>(string name, Func<RedisResult, TReply> decode)
    {
        var resource = $"ServerlessWs.Core.Redis.Scripts.{name}.lua";
        using var stream = typeof(SessionScripts).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The script {resource} is missing from the build.");
        using var reader = new StreamReader(stream);
        return new RedisScript<TReply>(reader.ReadToEnd(), decode);
    }
}

/// <summary>The claim script's reply: status 0 refused, 1 created, 2 resumed; a resume's replay and groups.</summary>
internal sealed record ClaimReply(int Status, long Epoch, long Seq, string? PreviousServer, List<LogEntry> Entries, string[] Groups);

/// <summary>The append script's reply: state 0 unknown, 1 disconnected, 2 connected (with its owner and epoch).</summary>
internal readonly record struct AppendReply(int State, long Seq, string? Server, long Epoch);
