namespace ServerlessWs.Core.Upstream;

/// <summary>Where an upstream event came from (docs/protocol.md §7).</summary>
public enum UpstreamKind
{
    /// <summary>A client's <c>event</c> frame: <c>ce-type</c> <c>serverlessws.user.&lt;event&gt;</c>.</summary>
    User,

    /// <summary>A connect, disconnect or takeover, from the ownership events: <c>ce-type</c> <c>serverlessws.sys.&lt;event&gt;</c>.</summary>
    Lifecycle,
}

/// <summary>
/// One event for the application's handler, as stored until it is delivered. Written and read only through
/// <c>UpstreamRecordCodec</c>. Everything but <see cref="Data"/> and <see cref="Event"/> is the server's, never a
/// client's.
/// </summary>
/// <param name="CeId">The CloudEvents id: new per event, the same on every attempt and replay (the handler's key for dropping duplicates).</param>
/// <param name="Kind">A client's event, or a lifecycle event.</param>
/// <param name="Event">The event's name (for a lifecycle event: connected, disconnected or takeover).</param>
/// <param name="ClientId">The client the event is about.</param>
/// <param name="UserId">The token's subject when client authentication is on; null otherwise (and for lifecycle events).</param>
/// <param name="ServerId">The node that accepted the event (for a lifecycle event: the node that claimed or released).</param>
/// <param name="Time">When it was accepted (for a lifecycle event: when the ownership event was written).</param>
/// <param name="Data">The body: one JSON value.</param>
public sealed record UpstreamRecord(
    string CeId, UpstreamKind Kind, string Event, string ClientId, string? UserId, string ServerId, DateTimeOffset Time, byte[] Data)
{
    /// <summary>The <c>ce-type</c> prefix of lifecycle events.</summary>
    public const string SystemTypePrefix = "serverlessws.sys.";

    /// <summary>The CloudEvents type the handler sees.</summary>
    public string CeType => (Kind == UpstreamKind.User ? UpstreamRequest.UserTypePrefix : SystemTypePrefix) + Event;

    /// <summary>A client's event accepted now, with a new <see cref="CeId"/>.</summary>
    public static UpstreamRecord FromClient(string eventName, string clientId, string? userId, string serverId, DateTimeOffset time, byte[] data) =>
        new(Guid.NewGuid().ToString("N"), UpstreamKind.User, eventName, clientId, userId, serverId, time, data);
}

/// <summary>An entry read from an upstream partition: its stream id, and the record, or null when the entry is unreadable.</summary>
public sealed record ReceivedUpstream(int Partition, string EntryId, UpstreamRecord? Record)
{
    /// <summary>The fields as stored, kept so a dead letter carries the original entry.</summary>
    internal StackExchange.Redis.NameValueEntry[] Fields { get; init; } = [];
}

/// <summary>A parked event (<c>ws:{up}:dead</c>): its id there, the record (null when it was unreadable), why, and after how many attempts.</summary>
public sealed record UpstreamDeadLetter(string Id, UpstreamRecord? Record, string Reason, int Attempts);
