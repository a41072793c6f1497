using System.Globalization;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Sessions;
using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// The session store on Redis: one script per step, each in the client's own hash slot (see <see cref="RedisKeys"/>),
/// so any number of nodes share one consistent view of who owns which id. Claims, takeovers and releases are also
/// appended to <see cref="RedisKeys.Events"/> for the reconciler.
/// </summary>
public sealed class RedisSessionStore(IConnectionMultiplexer redis, IOptions<WsOptions> options, TimeProvider time) : ISessionStore
{
    // The events stream is a feed for the reconciler, not a record: it is capped (approximately, which is cheap).
    private const int EventsMaxLength = 100_000;

    private readonly WsOptions _options = options.Value;

    private IDatabase Db => redis.GetDatabase();

    public async ValueTask<ClaimResult> ClaimAsync(string clientId, string? resumeToken, long replayAfterSeq, string serverId, CancellationToken cancellationToken)
    {
        var token = ResumeTokens.Create();
        var tokenHash = ResumeTokens.Hash(token);
        var presentedHash = resumeToken is null ? null : ResumeTokens.Hash(resumeToken);
        var result = (RedisResult[])(await SessionScripts.Claim.EvaluateAsync(
            Db, ClientKeys(clientId), [presentedHash ?? RedisValue.EmptyString, tokenHash, serverId, NowMs(), FirstIdAfter(replayAfterSeq)]))!;

        var status = (int)result[0];
        if (status == 0)
        {
            return ClaimResult.Unauthorized;
        }

        var epoch = (long)result[1];
        var previous = (string?)result[3];
        var log = new LogRead(ParseEntries((RedisResult[])result[4]!, group: null), (long)result[2], epoch);
        var claim = status == 1
            ? new ClaimResult(ClaimStatus.Created, epoch, token, tokenHash, log, null)
            : new ClaimResult(ClaimStatus.Resumed, epoch, resumeToken!, presentedHash!, log, string.IsNullOrEmpty(previous) ? null : previous)
            {
                Groups = ((RedisResult[])result[5]!).Select(g => (string)g!).ToArray(),
            };

        // A resumed session's memberships are live again (they lapsed with its release, if it was released).
        MembershipsLapse(clientId, status == 1 ? [] : (RedisResult[])result[5]!, lapsesAtMs: null);
        AddEvent(claim.PreviousServer is null ? "claimed" : "takeover", clientId, serverId, epoch, claim.PreviousServer);
        return claim;
    }

    public async ValueTask<bool> ReleaseAsync(string clientId, long epoch, CancellationToken cancellationToken)
    {
        var released = await SessionScripts.Release.EvaluateAsync(
            Db, ClientKeys(clientId), [epoch, _options.SessionTtlSeconds * 1000L]);
        if (released.IsNull)
        {
            return false;
        }

        var result = (RedisResult[])released!;
        MembershipsLapse(clientId, (RedisResult[])result[1]!, NowMs() + (_options.SessionTtlSeconds * 1000L));
        AddEvent("released", clientId, (string?)result[0], epoch, null);
        return true;
    }

    /// <summary>
    /// Releases <paramref name="clientId"/> only while <paramref name="serverId"/> still owns it (cleanup of a dead
    /// server); returns the released epoch, or null when the id is no longer that server's.
    /// </summary>
    public async ValueTask<long?> ReleaseIfOwnedByAsync(string clientId, string serverId, CancellationToken cancellationToken)
    {
        var released = await SessionScripts.ReleaseIfOwnedBy.EvaluateAsync(
            Db, ClientKeys(clientId), [serverId, _options.SessionTtlSeconds * 1000L]);
        if (released.IsNull)
        {
            return null;
        }

        var result = (RedisResult[])released!;
        MembershipsLapse(clientId, (RedisResult[])result[1]!, NowMs() + (_options.SessionTtlSeconds * 1000L));
        return (long)result[0];
    }

    public async ValueTask<AppendResult> AppendAsync(string clientId, OutboundMessage message, CancellationToken cancellationToken)
    {
        var now = NowMs();
        var result = (RedisResult[])(await SessionScripts.Append.EvaluateAsync(
            Db,
            ClientKeys(clientId),
            [message.From, message.Data, now, _options.LogMaxMessages]))!;

        var state = (int)result[0];
        if (state == 0)
        {
            return new AppendResult(RecipientState.Unknown, null, null, 0);
        }

        var entry = new LogEntry((long)result[1], message.From, null, message.Data, now);
        return state == 1
            ? new AppendResult(RecipientState.Disconnected, entry, null, 0)
            : new AppendResult(RecipientState.Connected, entry, (string?)result[2], (long)result[3]);
    }

    public async ValueTask<LogRead> ReadLogAsync(string clientId, long afterSeq, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await SessionScripts.Read.EvaluateAsync(
            Db, [RedisKeys.Owner(clientId), RedisKeys.Log(clientId)], [FirstIdAfter(afterSeq)]))!;
        return new LogRead(ParseEntries((RedisResult[])result[2]!, group: null), (long)result[0], (long)result[1]);
    }

    public async ValueTask<GroupJoin> JoinAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        // The client's own set (its slot) is the truth that resumes read; the group's member set (another slot)
        // is what a group send counts. The client's set is written first: a member is never in the group's set
        // without being in its own.
        var joined = (int)await SessionScripts.Join.EvaluateAsync(Db, ClientKeys(clientId), [group, _options.MaxGroupsPerClient]);
        if (joined != 1)
        {
            return new GroupJoin(joined == 0 ? GroupJoinStatus.UnknownClient : GroupJoinStatus.TooManyGroups, 0);
        }

        var gseq = (long)await SessionScripts.GroupJoin.EvaluateAsync(Db, GroupKeys(group), [clientId, NowMs(), _options.MaxMembersPerGroup]);
        if (gseq < 0)
        {
            // The group is full: the client's own set gives the group back, so nothing changed.
            await Db.SetRemoveAsync(RedisKeys.ClientGroups(clientId), group);
            return new GroupJoin(GroupJoinStatus.GroupFull, 0);
        }

        return new GroupJoin(GroupJoinStatus.Joined, gseq);
    }

    public async ValueTask LeaveAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        await Db.SortedSetRemoveAsync(RedisKeys.GroupMembers(group), clientId);
        await Db.SetRemoveAsync(RedisKeys.ClientGroups(clientId), group);
    }

    public async ValueTask<GroupAppendResult> AppendToGroupAsync(string group, OutboundMessage message, CancellationToken cancellationToken)
    {
        var now = NowMs();
        var result = (RedisResult[])(await SessionScripts.GroupAppend.EvaluateAsync(
            Db,
            GroupKeys(group),
            [message.From, message.Data, now, _options.LogMaxMessages, _options.LogMaxAgeSeconds * 1000L, group == Protocol.Groups.Broadcast ? "1" : "0"]))!;
        if (result.Length == 1)
        {
            return new GroupAppendResult(null, 0);
        }

        return new GroupAppendResult(new LogEntry((long)result[0], message.From, group, message.Data, now), (long)result[1]);
    }

    public async ValueTask<GroupLogRead> ReadGroupLogAsync(string group, long afterGseq, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await SessionScripts.GroupRead.EvaluateAsync(
            Db, [RedisKeys.GroupSeq(group), RedisKeys.GroupLog(group)], [FirstIdAfter(afterGseq)]))!;
        return new GroupLogRead(ParseEntries((RedisResult[])result[1]!, group), (long)result[0]);
    }

    public async ValueTask<ReassertOutcome> ReassertAsync(string clientId, string serverId, long epoch, byte[] tokenHash, CancellationToken cancellationToken)
    {
        var outcome = (int)await SessionScripts.Reassert.EvaluateAsync(
            Db, ClientKeys(clientId), [serverId, epoch, tokenHash, NowMs()]);
        return (ReassertOutcome)outcome;
    }

    public async ValueTask<SessionInfo?> GetSessionAsync(string clientId, CancellationToken cancellationToken)
    {
        var fields = await Db.HashGetAsync(RedisKeys.Owner(clientId), ["server", "epoch", "connectedAt", "seq"]);
        if (fields[1].IsNull)
        {
            return null;
        }

        var server = (string?)fields[0];
        return new SessionInfo(
            clientId,
            string.IsNullOrEmpty(server) ? null : server,
            (long)fields[1],
            DateTimeOffset.FromUnixTimeMilliseconds((long)fields[2]),
            (long)fields[3]);
    }

    /// <summary>
    /// Sets when each of a client's memberships lapses: at <paramref name="lapsesAtMs"/> (its session's expiry, once
    /// released), or never while connected (null). Each group is its own slot, so one command each, fire and forget:
    /// a membership that did not lapse in time is only counted a little longer; it can never deliver anything.
    /// </summary>
    private void MembershipsLapse(string clientId, RedisResult[] groups, long? lapsesAtMs)
    {
        RedisValue score = lapsesAtMs is { } at ? at : "inf";
        foreach (var group in groups)
        {
            _ = SessionScripts.GroupMemberLapses.EvaluateAsync(Db, [RedisKeys.GroupMembers((string)group!)], [clientId, score])
                .ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        }
    }

    private static RedisKey[] ClientKeys(string clientId) =>
        [RedisKeys.Owner(clientId), RedisKeys.Log(clientId), RedisKeys.ClientGroups(clientId)];

    private static RedisKey[] GroupKeys(string group) =>
        [RedisKeys.GroupMembers(group), RedisKeys.GroupSeq(group), RedisKeys.GroupLog(group)];

    /// <summary>The stream id of the entry after <paramref name="seq"/> (entries are appended with id <c>seq-0</c>).</summary>
    private static string FirstIdAfter(long seq) => string.Create(CultureInfo.InvariantCulture, $"{seq + 1}-0");

    /// <summary>Log entries as read; <paramref name="group"/> names the group of a group's log (its entries do not repeat it).</summary>
    private List<LogEntry> ParseEntries(RedisResult[] raw, string? group)
    {
        var oldest = NowMs() - (_options.LogMaxAgeSeconds * 1000L);
        var entries = new List<LogEntry>(raw.Length);
        foreach (var item in raw)
        {
            var entry = ParseEntry((RedisResult[])item!, group);
            // The log's age bound is applied on read: the stream is already bounded by length.
            if (entry.AppendedAtMs >= oldest)
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    private static LogEntry ParseEntry(RedisResult[] raw, string? group)
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

    private void AddEvent(string type, string clientId, string? serverId, long epoch, string? previousServer)
    {
        // Fire and forget: the reconciler repairs what a lost event leaves (the registry is the truth, not the feed).
        NameValueEntry[] fields = previousServer is null
            ? [new("type", type), new("clientId", clientId), new("server", serverId ?? string.Empty), new("epoch", epoch)]
            : [new("type", type), new("clientId", clientId), new("server", serverId ?? string.Empty), new("epoch", epoch), new("previous", previousServer)];
        Db.StreamAdd(RedisKeys.Events, fields, maxLength: EventsMaxLength, useApproximateMaxLength: true, flags: CommandFlags.FireAndForget);
    }

    private long NowMs() => time.GetUtcNow().ToUnixTimeMilliseconds();
}
