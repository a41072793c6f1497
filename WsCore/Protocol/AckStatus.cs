namespace ServerlessWs.Core.Protocol;

/// <summary>Values of <c>ack.status</c> (docs/protocol.md §2, §5a).</summary>
public static class AckStatus
{
    /// <summary>Appended to the recipient's log while its owner node is alive.</summary>
    public const string Delivered = "delivered";

    /// <summary>Appended to the log of a known recipient that is not connected; it is replayed on resume.</summary>
    public const string Queued = "queued";

    /// <summary>No such recipient (never seen, or its session expired), or a group with no other members.</summary>
    public const string Unknown = "unknown";

    /// <summary>An <c>event</c> was stored for the application's handler (docs/protocol.md §7).</summary>
    public const string Accepted = "accepted";

    /// <summary>A <c>join</c> or <c>leave</c> was applied.</summary>
    public const string Ok = "ok";
}
