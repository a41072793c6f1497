namespace ServerlessWs.Core.Sessions;

/// <summary>
/// The coordination store: sessions (ownership with epochs), per-client logs, and groups with their own logs. Every
/// step is atomic for one client or one group, so the Redis implementation runs each as one script in that client's
/// (or group's) hash slot; a join is the one operation that takes a step in each.
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
    /// Appends a direct message to the log of a known client and tells where it is connected; appends nothing for an
    /// unknown one.
    /// </summary>
    ValueTask<AppendResult> AppendAsync(string clientId, OutboundMessage message, CancellationToken cancellationToken);

    /// <summary>Reads the log entries after <paramref name="afterSeq"/>, with the session's seq counter and epoch.</summary>
    ValueTask<LogRead> ReadLogAsync(string clientId, long afterSeq, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a known client to <paramref name="group"/> (membership belongs to the id and survives resumes until the
    /// session expires) and returns the group's gseq at the time of the join: the member is owed every message after
    /// it. Nothing changes for an unknown client, nor for one already in <c>Ws:MaxGroupsPerClient</c> other groups.
    /// </summary>
    ValueTask<GroupJoin> JoinAsync(string clientId, string group, CancellationToken cancellationToken);

    ValueTask LeaveAsync(string clientId, string group, CancellationToken cancellationToken);

    /// <summary>
    /// Appends one message to <paramref name="group"/>'s own log and assigns its gseq (docs/protocol.md §5b): one step
    /// whatever the member count. Nothing is appended when the group has no member other than the sender; the
    /// broadcast group <see cref="Protocol.Groups.Broadcast"/> has every connected client and always appends.
    /// </summary>
    ValueTask<GroupAppendResult> AppendToGroupAsync(string group, OutboundMessage message, CancellationToken cancellationToken);

    /// <summary>Reads a group's log after <paramref name="afterGseq"/>, with the group's counter.</summary>
    ValueTask<GroupLogRead> ReadGroupLogAsync(string group, long afterGseq, CancellationToken cancellationToken);

    /// <summary>
    /// After the store was unreachable (or lost its data), re-asserts a claim this server still holds a socket for:
    /// the epoch decides whether it still owns the id (docs/design.md invariant 4).
    /// </summary>
    ValueTask<ReassertOutcome> ReassertAsync(string clientId, string serverId, long epoch, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The session of <paramref name="clientId"/>, or null when it is unknown.</summary>
    ValueTask<SessionInfo?> GetSessionAsync(string clientId, CancellationToken cancellationToken);
}
