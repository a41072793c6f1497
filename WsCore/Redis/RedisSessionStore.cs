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
        var reply = await EvaluateAsync(SessionScripts.Claim, ClientKeys(clientId), [presentedHash ?? RedisValue.EmptyString, tokenHash, serverId, NowMs(), FirstIdAfter(replayAfterSeq)]);
        if (reply.Status == 0)
        {
            return ClaimResult.Unauthorized;
        }

        var log = new LogRead(WithinAge(reply.Entries), reply.Seq, reply.Epoch);
        var claim = reply.Status == 1
            ? new ClaimResult(ClaimStatus.Created, reply.Epoch, token, tokenHash, log, null)
            : new ClaimResult(ClaimStatus.Resumed, reply.Epoch, resumeToken!, presentedHash!, log, reply.PreviousServer) { Groups = reply.Groups };

        // A resumed session's memberships are live again (they lapsed with its release, if it was released).
        MembershipsLapse(clientId, reply.Status == 1 ? [] : reply.Groups, lapsesAtMs: null);
        AddEvent(claim.PreviousServer is { } previousServer
            ? ClusterEvent.Takeover(clientId, serverId, reply.Epoch, previousServer)
            : ClusterEvent.Claimed(clientId, serverId, reply.Epoch));
        return claim;
    }

    public async ValueTask<bool> ReleaseAsync(string clientId, long epoch, CancellationToken cancellationToken)
    {
        if (await EvaluateAsync(SessionScripts.Release, ClientKeys(clientId), [epoch, _options.SessionTtlSeconds * 1000L]) is not { } released)
        {
            return false;
        }

        MembershipsLapse(clientId, released.Groups, NowMs() + (_options.SessionTtlSeconds * 1000L));
        AddEvent(ClusterEvent.Released(clientId, released.Server, epoch));
        return true;
    }

    /// <summary>
    /// Releases <paramref name="clientId"/> only while <paramref name="serverId"/> still owns it (cleanup of a dead
    /// server); returns the released epoch, or null when the id is no longer that server's.
    /// </summary>
    public async ValueTask<long?> ReleaseIfOwnedByAsync(string clientId, string serverId, CancellationToken cancellationToken)
    {
        if (await EvaluateAsync(SessionScripts.ReleaseIfOwnedBy, ClientKeys(clientId), [serverId, _options.SessionTtlSeconds * 1000L]) is not { } released)
        {
            return null;
        }

        MembershipsLapse(clientId, released.Groups, NowMs() + (_options.SessionTtlSeconds * 1000L));
        return released.Epoch;
    }

    public async ValueTask<AppendResult> AppendAsync(string clientId, OutboundMessage message, CancellationToken cancellationToken)
    {
        var now = NowMs();
        var reply = await EvaluateAsync(SessionScripts.Append, ClientKeys(clientId), [message.From, message.Data, now, _options.LogMaxMessages]);
        if (reply.State == 0)
        {
            return new AppendResult(RecipientState.Unknown, null, null, 0);
        }

        var entry = new LogEntry(reply.Seq, message.From, null, message.Data, now);
        return reply.State == 1
            ? new AppendResult(RecipientState.Disconnected, entry, null, 0)
            : new AppendResult(RecipientState.Connected, entry, reply.Server, reply.Epoch);
    }

    public async ValueTask<LogRead> ReadLogAsync(string clientId, long afterSeq, CancellationToken cancellationToken)
    {
        var (seq, epoch, entries) = await EvaluateAsync(SessionScripts.Read, [RedisKeys.Owner(clientId), RedisKeys.Log(clientId)], [FirstIdAfter(afterSeq)]);
        return new LogRead(WithinAge(entries), seq, epoch);
    }

    public async ValueTask<GroupJoin> JoinAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        // The client's own set (its slot) is the truth that resumes read; the group's member set (another slot)
        // is what a group send counts. The client's set is written first: a member is never in the group's set
        // without being in its own.
        var joined = await EvaluateAsync(SessionScripts.Join, ClientKeys(clientId), [group, _options.MaxGroupsPerClient]);
        if (joined != 1)
        {
            return new GroupJoin(joined == 0 ? GroupJoinStatus.UnknownClient : GroupJoinStatus.TooManyGroups, 0);
        }

        var gseq = await EvaluateAsync(SessionScripts.GroupJoin, GroupKeys(group), [clientId, NowMs(), _options.MaxMembersPerGroup]);
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
        var appended = await EvaluateAsync(SessionScripts.GroupAppend, GroupKeys(group),
            [message.From, message.Data, now, _options.LogMaxMessages, _options.LogMaxAgeSeconds * 1000L, group == Protocol.Groups.Broadcast ? "1" : "0"]);
        return appended is { } reply
            ? new GroupAppendResult(new LogEntry(reply.Gseq, message.From, group, message.Data, now), reply.Recipients)
            : new GroupAppendResult(null, 0);
    }

    public async ValueTask<GroupLogRead> ReadGroupLogAsync(string group, long afterGseq, CancellationToken cancellationToken)
    {
        var (gseq, entries) = await EvaluateAsync(SessionScripts.GroupRead, [RedisKeys.GroupSeq(group), RedisKeys.GroupLog(group)], [FirstIdAfter(afterGseq)]);
        return new GroupLogRead(WithinAge(SessionScripts.Entries(entries, group)), gseq);
    }

    public async ValueTask<ReassertOutcome> ReassertAsync(string clientId, string serverId, long epoch, byte[] tokenHash, CancellationToken cancellationToken)
    {
        var outcome = await EvaluateAsync(SessionScripts.Reassert, ClientKeys(clientId), [serverId, epoch, tokenHash, NowMs()]);
        if (outcome != ReassertOutcome.Lost)
        {
            // The indexes are kept from events: a re-assert says claimed again, so a store that came back empty (or
            // lost the claim's own event while away) lists the socket again within one reconcile pass.
            AddEvent(ClusterEvent.Claimed(clientId, serverId, epoch));
        }

        return outcome;
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
    private void MembershipsLapse(string clientId, string[] groups, long? lapsesAtMs)
    {
        RedisValue score = lapsesAtMs is { } at ? at : "inf";
        foreach (var group in groups)
        {
            _ = SessionScripts.GroupMemberLapses.EvaluateAsync(Db, [RedisKeys.GroupMembers(group)], [clientId, score])
                .ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        }
    }

    private static RedisKey[] ClientKeys(string clientId) =>
        [RedisKeys.Owner(clientId), RedisKeys.Log(clientId), RedisKeys.ClientGroups(clientId)];

    private static RedisKey[] GroupKeys(string group) =>
        [RedisKeys.GroupMembers(group), RedisKeys.GroupSeq(group), RedisKeys.GroupLog(group)];

    /// <summary>The stream id of the entry after <paramref name="seq"/> (entries are appended with id <c>seq-0</c>).</summary>
    private static string FirstIdAfter(long seq) => string.Create(CultureInfo.InvariantCulture, $"{seq + 1}-0");

    /// <summary>The log's age bound, applied on read (the stream itself is bounded by length).</summary>
    private List<LogEntry> WithinAge(List<LogEntry> entries)
    {
        var oldest = NowMs() - (_options.LogMaxAgeSeconds * 1000L);
        entries.RemoveAll(entry => entry.AppendedAtMs < oldest);
        return entries;
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
    private Task<TReply> EvaluateAsync<TReply>(RedisScript<TReply> script, RedisKey[] keys, RedisValue[] values) =>
        RedisFailures.Guard(() => script.EvaluateAsync(Db, keys, values), "session");

    private long NowMs() => time.GetUtcNow().ToUnixTimeMilliseconds();
}
