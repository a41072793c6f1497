namespace ServerlessWs.Core.Cluster;

/// <summary>What a <c>ws:events</c> record says happened.</summary>
public enum ClusterEventType
{
    /// <summary>A server claimed a client id (a new session, a resume, or a re-assert after the store came back).</summary>
    Claimed,

    /// <summary>A claim took a live id from another server (<see cref="ClusterEvent.PreviousServer"/>).</summary>
    Takeover,

    /// <summary>A server let a client id go (fenced by epoch).</summary>
    Released,

    /// <summary>Cleanup found a server's lease gone and released what it owned.</summary>
    ServerDown,
}

/// <summary>
/// One record of the <c>ws:events</c> stream, the reconciler's feed. Written and read only through
/// <see cref="ClusterEventCodec"/>, so both apps agree on its fields without spelling them.
/// </summary>
/// <param name="Type">What happened.</param>
/// <param name="Server">The server that claimed, released, or went down.</param>
/// <param name="ClientId">The client id; null for <see cref="ClusterEventType.ServerDown"/>.</param>
/// <param name="Epoch">The claim's epoch; 0 for <see cref="ClusterEventType.ServerDown"/>.</param>
/// <param name="PreviousServer">For a takeover, the server that held the id before.</param>
public sealed record ClusterEvent(ClusterEventType Type, string Server, string? ClientId = null, long Epoch = 0, string? PreviousServer = null)
{
    public static ClusterEvent Claimed(string clientId, string server, long epoch) => new(ClusterEventType.Claimed, server, clientId, epoch);

    public static ClusterEvent Takeover(string clientId, string server, long epoch, string previousServer) =>
        new(ClusterEventType.Takeover, server, clientId, epoch, previousServer);

    public static ClusterEvent Released(string clientId, string server, long epoch) => new(ClusterEventType.Released, server, clientId, epoch);

    public static ClusterEvent ServerDown(string server) => new(ClusterEventType.ServerDown, server);
}

/// <summary>An entry read from <c>ws:events</c>: its stream id, and the event, or null when the entry is unreadable.</summary>
public sealed record ReceivedEvent(string Id, ClusterEvent? Event)
{
    /// <summary>The record's type as written (for metrics; <c>?</c> when missing).</summary>
    public string TypeName { get; init; } = "?";

    /// <summary>When it was appended: a stream id starts with its append time in Unix ms.</summary>
    public long AppendedAtMs =>
        long.Parse(Id.AsSpan(0, Id.IndexOf('-', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The fields as stored, kept so a dead letter carries the original record.</summary>
    internal StackExchange.Redis.NameValueEntry[] Fields { get; init; } = [];
}
