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
    private readonly Dictionary<string, HashSet<string>> _groups = new(StringComparer.Ordinal);
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
            return ValueTask.FromResult(new ClaimResult(ClaimStatus.Resumed, session.Epoch, resumeToken!, session.TokenHash, Read(session, replayAfterSeq, now), previous));
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
            // A group message reaches only a member: the same guard the Redis store needs for its lapsed index.
            if (session is null || (message.Group is not null && !session.Groups.Contains(message.Group)))
            {
                return ValueTask.FromResult(new AppendResult(RecipientState.Unknown, null, null, 0));
            }

            var entry = new LogEntry(++session.Seq, message.From, message.Group, message.Data.ToArray(), now.ToUnixTimeMilliseconds());
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

    public ValueTask JoinAsync(string clientId, string group, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (FindLive(clientId, _time.GetUtcNow()) is { } session)
            {
                session.Groups.Add(group);
                if (!_groups.TryGetValue(group, out var members))
                {
                    _groups[group] = members = new HashSet<string>(StringComparer.Ordinal);
                }

                members.Add(clientId);
            }

            return ValueTask.CompletedTask;
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

    public ValueTask<IReadOnlyCollection<string>> GetGroupMembersAsync(string group, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyCollection<string> members = _groups.TryGetValue(group, out var set) ? [.. set] : [];
            return ValueTask.FromResult(members);
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

    /// <summary>Drops sessions past their TTL, with their logs and group memberships.</summary>
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

    private void RemoveMember(string group, string clientId)
    {
        if (_groups.TryGetValue(group, out var members) && members.Remove(clientId) && members.Count == 0)
        {
            _groups.Remove(group);
        }
    }

    private void Trim(Session session, DateTimeOffset now)
    {
        var oldest = now.ToUnixTimeMilliseconds() - (_options.LogMaxAgeSeconds * 1000L);
        while (session.Log.Count > 0 && (session.Log.Count > _options.LogMaxMessages || session.Log.Peek().AppendedAtMs < oldest))
        {
            session.Log.Dequeue();
        }
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
