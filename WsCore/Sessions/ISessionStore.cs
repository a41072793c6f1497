namespace ServerlessWs.Core.Sessions;

/// <summary>
/// The coordination store: sessions (ownership with epochs), per-client logs and groups. Every method is one
/// atomic step for one client, so the Redis implementation runs each as one script in that client's hash slot.
/// Embedded mode uses <see cref="InMemorySessionStore"/>.
/// </summary>
public interface ISessionStore
{
    /// <summary>
    /// Claims <paramref name="clientId"/> for <paramref name="serverId"/>. A known id (connected anywhere, or within
    /// its session TTL) needs its resume token; an unknown id gets a new session whatever token was presented.
    /// Every successful claim takes a new, larger epoch. A resume also reads the log after
    /// <paramref name="replayAfterSeq"/> in the same step (<see cref="ClaimResult.Log"/>), so a connect needs one
    /// round trip to the store.
    /// </summary>
    ValueTask<ClaimResult> ClaimAsync(string clientId, string? resumeToken, long replayAfterSeq, string serverId, CancellationToken cancellationToken);

    /// <summary>
    /// Marks the session disconnected and starts its TTL, only if <paramref name="epoch"/> is still the current one,
    /// so a late close from an old owner never undoes a newer claim. Returns whether it released.
    /// </summary>
    ValueTask<bool> ReleaseAsync(string clientId, long epoch, CancellationToken cancellationToken);

    /// <summary>
    /// Appends to the log of a known client and tells where it is connected; appends nothing for an unknown one, or
    /// for a group message to a client that is not (or no longer) in that group.
    /// </summary>
    ValueTask<AppendResult> AppendAsync(string clientId, OutboundMessage message, CancellationToken cancellationToken);

    /// <summary>Reads the log entries after <paramref name="afterSeq"/>, with the session's seq counter and epoch.</summary>
    ValueTask<LogRead> ReadLogAsync(string clientId, long afterSeq, CancellationToken cancellationToken);

    ValueTask JoinAsync(string clientId, string group, CancellationToken cancellationToken);

    ValueTask LeaveAsync(string clientId, string group, CancellationToken cancellationToken);

    ValueTask<IReadOnlyCollection<string>> GetGroupMembersAsync(string group, CancellationToken cancellationToken);

    /// <summary>
    /// After the store was unreachable (or lost its data), re-asserts a claim this server still holds a socket for:
    /// the epoch decides whether it still owns the id (DESIGN.md invariant 4).
    /// </summary>
    ValueTask<ReassertOutcome> ReassertAsync(string clientId, string serverId, long epoch, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The session of <paramref name="clientId"/>, or null when it is unknown.</summary>
    ValueTask<SessionInfo?> GetSessionAsync(string clientId, CancellationToken cancellationToken);
}
