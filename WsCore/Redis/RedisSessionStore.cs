using System.Globalization;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Sessions;
using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// The session store on Redis: one script per step, each in the client's own hash slot (see <see cref="RedisKeys"/>),
/// so any number of nodes share one consistent view of who owns which id. Claims, takeovers and releases are also
/// appended to <see cref="RedisKeys.Events"/> for the reconciler. A Redis outage surfaces as
/// <see cref="StoreUnavailableException"/>; any other exception is a bug.
/// </summary>
public sealed class RedisSessionStore(IConnectionMultiplexer redis, IOptions<WsOptions> options, TimeProvider time) : ISessionStore
{
    private readonly WsOptions _options = options.Value;

    private IDatabase Db => redis.GetDatabase();

    public async ValueTask<ClaimResult> ClaimAsync(string clientId, string? resumeToken, long replayAfterSeq, string serverId, CancellationToken cancellationToken)
    {
        var token = ResumeTokens.Create();
        var tokenHash = ResumeTokens.Hash(token);
        var presentedHash = resumeToken is null ? null : ResumeTokens.Hash(resumeToken);
        var result = (RedisResult[])(await EvaluateAsync(SessionScripts.Claim, ClientKeys(clientId), [presentedHash ?? RedisValue.EmptyString, tokenHash, serverId, NowMs(), FirstIdAfter(replayAfterSeq)]))!;

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
        AddEvent(claim.PreviousServer is { } previousServer
            ? ClusterEvent.Takeover(clientId, serverId, epoch, previousServer)
            : ClusterEvent.Claimed(clientId, serverId, epoch));
        return claim;
    }

    public async ValueTask<bool> ReleaseAsync(string clientId, long epoch, CancellationToken cancellationToken)
    {
        var released = await EvaluateAsync(SessionScripts.Release, ClientKeys(clientId), [epoch, _options.SessionTtlSeconds * 1000L]);
        if (released.IsNull)
        {
            return false;
        }

        var result = (RedisResult[])released!;
        MembershipsLapse(clientId, (RedisResult[])result[1]!, NowMs() + (_options.SessionTtlSeconds * 1000L));
        AddEvent(ClusterEvent.Released(clientId, (string)result[0]!, epoch));
        return true;
    }

    /// <summary>
    /// Releases <paramref name="clientId"/> only while <paramref name="serverId"/> still owns it (cleanup of a dead
    /// server); returns the released epoch, or null when the id is no longer that server's.
    /// </summary>
    public async ValueTask<long?> ReleaseIfOwnedByAsync(string clientId, string serverId, CancellationToken cancellationToken)
    {
        var released = await EvaluateAsync(SessionScripts.ReleaseIfOwnedBy, ClientKeys(clientId), [serverId, _options.SessionTtlSeconds * 1000L]);
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
        var result = (RedisResult[])(await EvaluateAsync(SessionScripts.Append, ClientKeys(clientId),
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
        var result = (RedisResult[])(await EvaluateAsync(SessionScripts.Read, [RedisKeys.Owner(clientId), RedisKeys.Log(clientId)], [FirstIdAfter(afterSeq)]))!;
        return new LogRead(ParseEntries((RedisResult[])result[2]!, group: null), (long)result[0], (long)result[1]);
    }

    public async ValueTask<GroupJoin> JoinAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        // The client's own set (its slot) is the truth that resumes read; the group's member set (another slot)
        // is what a group send counts. The client's set is written first: a member is never in the group's set
        // without being in its own.
        var joined = (int)await EvaluateAsync(SessionScripts.Join, ClientKeys(clientId), [group, _options.MaxGroupsPerClient]);
        if (joined != 1)
        {
            return new GroupJoin(joined == 0 ? GroupJoinStatus.UnknownClient : GroupJoinStatus.TooManyGroups, 0);
        }

        var gseq = (long)await EvaluateAsync(SessionScripts.GroupJoin, GroupKeys(group), [clientId, NowMs(), _options.MaxMembersPerGroup]);
        if (gseq < 0)
        {
            // The group is full: the client's own set gives the group back, so nothing changed.
            await RedisFailures.Guard(() => Db.SetRemoveAsync(RedisKeys.ClientGroups(clientId), group), "join");
            return new GroupJoin(GroupJoinStatus.GroupFull, 0);
        }

        return new GroupJoin(GroupJoinStatus.Joined, gseq);
    }

    public async ValueTask LeaveAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        await RedisFailures.Guard(() => Db.SortedSetRemoveAsync(RedisKeys.GroupMembers(group), clientId), "leave");
        await RedisFailures.Guard(() => Db.SetRemoveAsync(RedisKeys.ClientGroups(clientId), group), "leave");
    }

    public async ValueTask<GroupAppendResult> AppendToGroupAsync(string group, OutboundMessage message, CancellationToken cancellationToken)
    {
        var now = NowMs();
        var result = (RedisResult[])(await EvaluateAsync(SessionScripts.GroupAppend, GroupKeys(group),
            [message.From, message.Data, now, _options.LogMaxMessages, _options.LogMaxAgeSeconds * 1000L, group == Protocol.Groups.Broadcast ? "1" : "0"]))!;
        if (result.Length == 1)
        {
            return new GroupAppendResult(null, 0);
        }

        return new GroupAppendResult(new LogEntry((long)result[0], message.From, group, message.Data, now), (long)result[1]);
    }

    public async ValueTask<GroupLogRead> ReadGroupLogAsync(string group, long afterGseq, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await EvaluateAsync(SessionScripts.GroupRead, [RedisKeys.GroupSeq(group), RedisKeys.GroupLog(group)], [FirstIdAfter(afterGseq)]))!;
        return new GroupLogRead(ParseEntries((RedisResult[])result[1]!, group), (long)result[0]);
    }

    public async ValueTask<ReassertOutcome> ReassertAsync(string clientId, string serverId, long epoch, byte[] tokenHash, CancellationToken cancellationToken)
    {
        var outcome = (int)await EvaluateAsync(SessionScripts.Reassert, ClientKeys(clientId), [serverId, epoch, tokenHash, NowMs()]);
        if ((ReassertOutcome)outcome != ReassertOutcome.Lost)
        {
            // The indexes are kept from events: a re-assert says claimed again, so a store that came back empty (or
            // lost the claim's own event while away) lists the socket again within one reconcile pass.
            AddEvent(ClusterEvent.Claimed(clientId, serverId, epoch));
        }

        return (ReassertOutcome)outcome;
    }

    public async ValueTask<SessionInfo?> GetSessionAsync(string clientId, CancellationToken cancellationToken)
    {
        var fields = await RedisFailures.Guard(() =>
            Db.HashGetAsync(RedisKeys.Owner(clientId), [OwnerFields.Server, OwnerFields.Epoch, OwnerFields.ConnectedAt, OwnerFields.Seq]), "session");
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

    private void AddEvent(ClusterEvent e)
    {
        try
        {
            ClusterEventCodec.AppendFireAndForget(Db, e);
        }
        catch (Exception failure) when (RedisFailures.IsUnavailable(failure))
        {
            // Fire and forget, and never the step's failure: the claim (or release) it reports has happened. With no
            // connection the append fails at once; cleanup's index repair mends what a lost event leaves (the owner
            // hash is the truth, not the feed).
        }
    }

    /// <summary>Runs a session script, turning an outage into <see cref="StoreUnavailableException"/>.</summary>
    private Task<RedisResult> EvaluateAsync(RedisScript script, RedisKey[] keys, RedisValue[] values) =>
        RedisFailures.Guard(() => script.EvaluateAsync(Db, keys, values), "session");

    private long NowMs() => time.GetUtcNow().ToUnixTimeMilliseconds();
}
