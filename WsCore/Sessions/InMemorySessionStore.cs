using Microsoft.Extensions.Options;
using ServerlessWs.Core.Options;

namespace ServerlessWs.Core.Sessions;

/// <summary>
/// The embedded store: the whole protocol (ownership, resume, replay, groups) on one node with no Redis.
/// One lock guards everything; each method is short and allocation-light, and embedded mode is one node.
/// </summary>
public sealed class InMemorySessionStore : ISessionStore, IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GroupState> _groups = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly WsOptions _options;
    private readonly ITimer _purgeTimer;
    private long _lastEpoch;

    public InMemorySessionStore(IOptions<WsOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        // Expired sessions would otherwise stay in memory until someone asked for them again.
        var period = TimeSpan.FromSeconds(Math.Max(1, _options.SessionTtlSeconds / 2.0));
        _purgeTimer = time.CreateTimer(_ => PurgeExpired(), null, period, period);
    }

    public ValueTask<ClaimResult> ClaimAsync(string clientId, string? resumeToken, long replayAfterSeq, string serverId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var session = FindLive(clientId, now);
            if (session is null)
            {
                var token = ResumeTokens.Create();
                session = new Session(ResumeTokens.Hash(token));
                _sessions[clientId] = session;
                Own(session, serverId, now);
                return ValueTask.FromResult(new ClaimResult(ClaimStatus.Created, session.Epoch, token, session.TokenHash, new LogRead([], 0, session.Epoch), null));
            }

            if (!ResumeTokens.Matches(resumeToken, session.TokenHash))
            {
                return ValueTask.FromResult(ClaimResult.Unauthorized);
            }

            var previous = session.Server;
            Own(session, serverId, now);
            return ValueTask.FromResult(new ClaimResult(ClaimStatus.Resumed, session.Epoch, resumeToken!, session.TokenHash, Read(session, replayAfterSeq, now), previous)
            {
                Groups = [.. session.Groups],
            });
        }
    }

    public ValueTask<bool> ReleaseAsync(string clientId, long epoch, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(clientId, out var session) || session.Epoch != epoch || session.Server is null)
            {
                return ValueTask.FromResult(false);
            }

            session.Server = null;
            session.DisconnectedAt = _time.GetUtcNow();
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<AppendResult> AppendAsync(string clientId, OutboundMessage message, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var session = FindLive(clientId, now);
            if (session is null)
            {
                return ValueTask.FromResult(new AppendResult(RecipientState.Unknown, null, null, 0));
            }

            var entry = new LogEntry(++session.Seq, message.From, null, message.Data.ToArray(), now.ToUnixTimeMilliseconds());
            session.Log.Enqueue(entry);
            Trim(session, now);
            var state = session.Server is null ? RecipientState.Disconnected : RecipientState.Connected;
            return ValueTask.FromResult(new AppendResult(state, entry, session.Server, session.Epoch));
        }
    }

    public ValueTask<LogRead> ReadLogAsync(string clientId, long afterSeq, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var session = FindLive(clientId, now);
            if (session is null)
            {
                return ValueTask.FromResult(LogRead.Empty);
            }

            return ValueTask.FromResult(Read(session, afterSeq, now));
        }
    }

    private LogRead Read(Session session, long afterSeq, DateTimeOffset now)
    {
        Trim(session, now);
        return new LogRead(session.Log.Where(e => e.Seq > afterSeq).ToArray(), session.Seq, session.Epoch);
    }

    public ValueTask<GroupJoin> JoinAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (FindLive(clientId, _time.GetUtcNow()) is not { } session)
            {
                return ValueTask.FromResult(new GroupJoin(GroupJoinStatus.UnknownClient, 0));
            }

            if (!session.Groups.Contains(group) && session.Groups.Count >= _options.MaxGroupsPerClient)
            {
                return ValueTask.FromResult(new GroupJoin(GroupJoinStatus.TooManyGroups, 0));
            }

            // Members whose session lapsed are dropped by the purge timer (within half a session TTL).
            var state = GroupOf(group);
            if (!state.Members.Contains(clientId) && state.Members.Count >= _options.MaxMembersPerGroup)
            {
                return ValueTask.FromResult(new GroupJoin(GroupJoinStatus.GroupFull, 0));
            }

            session.Groups.Add(group);
            state.Members.Add(clientId);
            return ValueTask.FromResult(new GroupJoin(GroupJoinStatus.Joined, state.Gseq));
        }
    }

    public ValueTask LeaveAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(clientId, out var session))
            {
                session.Groups.Remove(group);
            }

            RemoveMember(group, clientId);
            return ValueTask.CompletedTask;
        }
    }

    public ValueTask<GroupAppendResult> AppendToGroupAsync(string group, OutboundMessage message, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            _groups.TryGetValue(group, out var state);
            var recipients = 0L;
            if (group != Protocol.Groups.Broadcast)
            {
                // Constant work whatever the member count; members whose session lapsed are dropped by the purge.
                recipients = state is null ? 0 : state.Members.Count - (state.Members.Contains(message.From) ? 1 : 0);
                if (recipients == 0)
                {
                    return ValueTask.FromResult(new GroupAppendResult(null, 0));
                }
            }

            state ??= GroupOf(group);
            var entry = new LogEntry(++state.Gseq, message.From, group, message.Data.ToArray(), now.ToUnixTimeMilliseconds());
            state.Log.Enqueue(entry);
            Trim(state.Log, now);
            return ValueTask.FromResult(new GroupAppendResult(entry, recipients));
        }
    }

    public ValueTask<GroupLogRead> ReadGroupLogAsync(string group, long afterGseq, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out var state))
            {
                return ValueTask.FromResult(new GroupLogRead([], 0));
            }

            Trim(state.Log, _time.GetUtcNow());
            return ValueTask.FromResult(new GroupLogRead(state.Log.Where(e => e.Seq > afterGseq).ToArray(), state.Gseq));
        }
    }

    public ValueTask<ReassertOutcome> ReassertAsync(string clientId, string serverId, long epoch, byte[] tokenHash, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var session = FindLive(clientId, now);
            if (session is null)
            {
                session = new Session(tokenHash) { Server = serverId, Epoch = epoch, ConnectedAt = now };
                _sessions[clientId] = session;
                _lastEpoch = Math.Max(_lastEpoch, epoch);
                return ValueTask.FromResult(ReassertOutcome.Restored);
            }

            if (session.Epoch > epoch)
            {
                return ValueTask.FromResult(ReassertOutcome.Lost);
            }

            session.Server = serverId;
            session.DisconnectedAt = null;
            return ValueTask.FromResult(ReassertOutcome.Kept);
        }
    }

    public ValueTask<SessionInfo?> GetSessionAsync(string clientId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var session = FindLive(clientId, _time.GetUtcNow());
            var info = session is null ? null : new SessionInfo(clientId, session.Server, session.Epoch, session.ConnectedAt, session.Seq);
            return ValueTask.FromResult(info);
        }
    }

    /// <summary>Drops sessions past their TTL, with their logs and group memberships, and groups nobody can be owed anything of.</summary>
    public void PurgeExpired()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            foreach (var (clientId, session) in _sessions)
            {
                if (IsExpired(session, now))
                {
                    Forget(clientId, session);
                }
            }

            // A group with no member and nothing left in its log is forgotten, counter and all: nobody can be owed
            // a message of it (a later resume that names it finds a lost log and says so).
            foreach (var (group, state) in _groups)
            {
                Trim(state.Log, now);
                if (state.Members.Count == 0 && state.Log.Count == 0)
                {
                    _groups.Remove(group);
                }
            }
        }
    }

    public void Dispose() => _purgeTimer.Dispose();

    private void Own(Session session, string serverId, DateTimeOffset now)
    {
        session.Server = serverId;
        session.Epoch = ++_lastEpoch;
        session.ConnectedAt = now;
        session.DisconnectedAt = null;
    }

    /// <summary>The session if it is known now; an expired one is forgotten on the spot.</summary>
    private Session? FindLive(string clientId, DateTimeOffset now)
    {
        if (!_sessions.TryGetValue(clientId, out var session))
        {
            return null;
        }

        if (IsExpired(session, now))
        {
            Forget(clientId, session);
            return null;
        }

        return session;
    }

    private bool IsExpired(Session session, DateTimeOffset now) =>
        session.DisconnectedAt is { } at && now - at >= TimeSpan.FromSeconds(_options.SessionTtlSeconds);

    private void Forget(string clientId, Session session)
    {
        _sessions.Remove(clientId);
        foreach (var group in session.Groups)
        {
            RemoveMember(group, clientId);
        }
    }

    // A group's counter is kept while the group exists, members or not: gseq never goes backwards.
    private void RemoveMember(string group, string clientId)
    {
        if (_groups.TryGetValue(group, out var state))
        {
            state.Members.Remove(clientId);
        }
    }

    private GroupState GroupOf(string group)
    {
        if (!_groups.TryGetValue(group, out var state))
        {
            _groups[group] = state = new GroupState();
        }

        return state;
    }

    private void Trim(Session session, DateTimeOffset now) => Trim(session.Log, now);

    private void Trim(Queue<LogEntry> log, DateTimeOffset now)
    {
        var oldest = now.ToUnixTimeMilliseconds() - (_options.LogMaxAgeSeconds * 1000L);
        while (log.Count > 0 && (log.Count > _options.LogMaxMessages || log.Peek().AppendedAtMs < oldest))
        {
            log.Dequeue();
        }
    }

    /// <summary>A group: its members, its counter and its own log (contract v2).</summary>
    private sealed class GroupState
    {
        public HashSet<string> Members { get; } = new(StringComparer.Ordinal);

        public long Gseq { get; set; }

        public Queue<LogEntry> Log { get; } = new();
    }

    private sealed class Session(byte[] tokenHash)
    {
        public byte[] TokenHash { get; } = tokenHash;

        public string? Server { get; set; }

        public long Epoch { get; set; }

        public DateTimeOffset ConnectedAt { get; set; }

        public DateTimeOffset? DisconnectedAt { get; set; }

        public long Seq { get; set; }

        public Queue<LogEntry> Log { get; } = new();

        public HashSet<string> Groups { get; } = new(StringComparer.Ordinal);
    }
}
