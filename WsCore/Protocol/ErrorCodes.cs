namespace ServerlessWs.Core.Protocol;

/// <summary>Values of <c>error.code</c> (docs/protocol.md §2). The connection stays open after each.</summary>
public static class ErrorCodes
{
    /// <summary>The frame is not valid JSON (syntax, or nested too deep).</summary>
    public const string BadJson = "bad-json";

    /// <summary>Valid JSON that is not a valid frame: not an object, no <c>type</c>, missing or invalid fields.</summary>
    public const string BadFrame = "bad-frame";

    /// <summary>A <c>type</c> this server does not know.</summary>
    public const string UnknownType = "unknown-type";

    /// <summary>More frames than <c>Ws:FramesPerSecond</c> allows; the frame was dropped.</summary>
    public const string RateLimited = "rate-limited";

    /// <summary>Client authentication does not allow this action.</summary>
    public const string NotAllowed = "not-allowed";

    /// <summary>The coordination store cannot be reached; retry later.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>An <c>invoke</c> (or <c>event</c>) with no handler configured (docs/protocol.md §7).</summary>
    public const string NotConfigured = "not-configured";

    /// <summary>The handler answered an <c>invoke</c> with an error, or with something that is not one JSON value, or cannot be reached.</summary>
    public const string UpstreamFailed = "upstream-failed";

    /// <summary>The handler did not answer an <c>invoke</c> within <c>Upstream:TimeoutSeconds</c>.</summary>
    public const string UpstreamTimeout = "upstream-timeout";

    /// <summary>An <c>event</c> refused because its partition holds <c>Upstream:StreamMaxLength</c> events not yet delivered.</summary>
    public const string UpstreamBusy = "upstream-busy";
}
