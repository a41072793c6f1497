namespace ServerlessWs.Core.Sessions;

/// <summary>
/// One message of a log: a client's own (direct messages, <paramref name="Group"/> null) or a group's (contract v2,
/// docs/protocol.md §5b: one entry per group message, whatever the member count). What a node delivers and what a
/// resume replays.
/// </summary>
/// <param name="Seq">The position in its log, gapless from 1: the recipient's <c>seq</c> for a direct message, the group's <c>gseq</c> for a group message.</param>
/// <param name="From">Sender client id, or <c>admin</c>.</param>
/// <param name="Group">The group of a group message (<c>*</c> for a broadcast), else null.</param>
/// <param name="Data">The raw UTF-8 JSON of <c>data</c>.</param>
/// <param name="AppendedAtMs">Unix milliseconds when it was appended (the log's age bound, delivery latency).</param>
public sealed record LogEntry(long Seq, string From, string? Group, ReadOnlyMemory<byte> Data, long AppendedAtMs)
{
    /// <summary>W3C traceparent of the send that appended it, carried by the doorbell (not kept in the log).</summary>
    public string? TraceParent { get; init; }
}

/// <summary>A message to append to a log (a recipient's or a group's); the store assigns <see cref="LogEntry.Seq"/>.</summary>
public readonly record struct OutboundMessage(string From, ReadOnlyMemory<byte> Data);

public enum ClaimStatus
{
    /// <summary>A new session: the id was unknown (never seen, or expired).</summary>
    Created,

    /// <summary>A known id taken back with its valid resume token.</summary>
    Resumed,

    /// <summary>A known id without its valid resume token: refused, nothing changed.</summary>
    Unauthorized,
}

/// <summary>The outcome of a claim.</summary>
/// <param name="Epoch">The fencing token of this claim; grows on every claim.</param>
/// <param name="ResumeToken">The session's token in clear (a new one for a created session, the presented one on a resume).</param>
/// <param name="TokenHash">The stored hash of <paramref name="ResumeToken"/>, kept by the owner to re-assert the claim.</param>
/// <param name="Log">
/// The log read in the same step as the claim: for a resume, the entries after the seq the claim was given, with
/// the session's seq counter; for a created session, empty with the counter at 0.
/// </param>
/// <param name="PreviousServer">The server that held a live socket for this id before this claim, if any: it must close it with 4000.</param>
public sealed record ClaimResult(ClaimStatus Status, long Epoch, string ResumeToken, byte[] TokenHash, LogRead Log, string? PreviousServer)
{
    public static ClaimResult Unauthorized { get; } = new(ClaimStatus.Unauthorized, 0, string.Empty, [], LogRead.Empty, null);

    /// <summary>The groups the session belongs to (read in the same step as the claim; none for a created session).</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>The session's seq counter when claimed.</summary>
    public long LastSeq => Log.LastSeq;
}

public enum RecipientState
{
    /// <summary>Never seen, or its session expired: nothing was appended.</summary>
    Unknown,

    /// <summary>Known and connected to <see cref="AppendResult.OwnerServer"/>.</summary>
    Connected,

    /// <summary>Known but not connected: appended for replay.</summary>
    Disconnected,
}

/// <summary>The outcome of appending to a recipient's log.</summary>
public readonly record struct AppendResult(RecipientState State, LogEntry? Entry, string? OwnerServer, long OwnerEpoch);

/// <summary>What a log read returned.</summary>
/// <param name="Entries">Entries with seq above the asked one, in seq order (only what the log still holds).</param>
/// <param name="LastSeq">The session's seq counter at the time of the read.</param>
/// <param name="Epoch">The session's current epoch (0 when unknown): a claim that sees a newer one has been superseded.</param>
public sealed record LogRead(IReadOnlyList<LogEntry> Entries, long LastSeq, long Epoch)
{
    /// <summary>An unknown client's log, and a new session's.</summary>
    public static LogRead Empty { get; } = new([], 0, 0);

    /// <summary>
    /// True when every message after <paramref name="afterSeq"/> is in <see cref="Entries"/> (docs/protocol.md §5a):
    /// nothing aged out, and the client has not seen more than the store knows (which means the log was lost).
    /// </summary>
    public bool IsCompleteAfter(long afterSeq) =>
        afterSeq <= LastSeq && (afterSeq == LastSeq || (Entries.Count > 0 && Entries[0].Seq == afterSeq + 1));
}

/// <summary>What a read of a group's log returned (docs/protocol.md §5b).</summary>
/// <param name="Entries">Entries with gseq above the asked one, in gseq order (only what the group's log still holds, within its age).</param>
/// <param name="LastGseq">The group's counter at the time of the read: the gseq of its newest message, 0 for a group that never had one.</param>
public sealed record GroupLogRead(IReadOnlyList<LogEntry> Entries, long LastGseq)
{
    /// <summary>
    /// True when every message after <paramref name="afterGseq"/> is in <see cref="Entries"/>: nothing aged out of
    /// the window, and the client has not seen more than the group's counter (which means the log was lost).
    /// </summary>
    public bool IsCompleteAfter(long afterGseq) =>
        afterGseq <= LastGseq && (afterGseq == LastGseq || (Entries.Count > 0 && Entries[0].Seq == afterGseq + 1));
}

public enum GroupJoinStatus
{
    /// <summary>The client is a member (it may have been one already).</summary>
    Joined,

    /// <summary>The client id is unknown (its session expired): nothing changed.</summary>
    UnknownClient,

    /// <summary>The client is in <c>Ws:MaxGroupsPerClient</c> other groups: nothing changed.</summary>
    TooManyGroups,

    /// <summary>The group has <c>Ws:MaxMembersPerGroup</c> members: nothing changed.</summary>
    GroupFull,
}

/// <summary>The outcome of a join: on <see cref="GroupJoinStatus.Joined"/>, the group's gseq at the join.</summary>
public readonly record struct GroupJoin(GroupJoinStatus Status, long Gseq);

/// <summary>The outcome of appending to a group's log.</summary>
/// <param name="Entry">The appended entry (its <see cref="LogEntry.Seq"/> is the gseq); null when nothing was appended because the group has no member but the sender.</param>
/// <param name="Recipients">Members other than the sender when appended (0 for the broadcast group, whose members are every connected client).</param>
public readonly record struct GroupAppendResult(LogEntry? Entry, long Recipients);

/// <summary>A session as the admin API shows it.</summary>
public sealed record SessionInfo(string ClientId, string? Server, long Epoch, DateTimeOffset ConnectedAt, long LastSeq);

public enum ReassertOutcome
{
    /// <summary>A newer claim owns the id: this server's socket must close with 4000.</summary>
    Lost,

    /// <summary>The claim still stands.</summary>
    Kept,

    /// <summary>The store had lost the entry and it was written again; the log is gone, so seq restarts at 1.</summary>
    Restored,
}
