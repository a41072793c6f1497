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
}
