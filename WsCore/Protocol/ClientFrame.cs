namespace ServerlessWs.Core.Protocol;

public enum ClientFrameType
{
    Send,
    Join,
    Leave,
    Ping,

    /// <summary>A request to the application's handler, answered with its <c>result</c> (docs/protocol.md §7).</summary>
    Invoke,

    /// <summary>A durable event for the application's handler (docs/protocol.md §7).</summary>
    Event,
}

/// <summary>
/// A validated client-to-server frame. <see cref="Data"/> and <see cref="Id"/> are the raw UTF-8 JSON of those
/// values, so they are forwarded and echoed exactly as the client wrote them.
/// </summary>
public sealed class ClientFrame
{
    public required ClientFrameType Type { get; init; }

    /// <summary>Recipient client id of a <c>send</c> (null for a group send).</summary>
    public string? To { get; init; }

    /// <summary>Group of a group <c>send</c>, <c>join</c> or <c>leave</c>.</summary>
    public string? Group { get; init; }

    /// <summary>The event name of an <c>invoke</c> or <c>event</c> (the id charset).</summary>
    public string? Event { get; init; }

    /// <summary>Raw JSON of <c>data</c> (a <c>send</c>, <c>invoke</c> or <c>event</c> always has it; it may be <c>null</c>).</summary>
    public ReadOnlyMemory<byte> Data { get; init; }

    /// <summary>Raw JSON of <c>id</c> (a string or a number), empty when the frame had none.</summary>
    public ReadOnlyMemory<byte> Id { get; init; }
}

/// <summary>The outcome of parsing one text message: a frame, or the error to answer with.</summary>
public readonly struct ClientFrameParseResult
{
    private ClientFrameParseResult(ClientFrame? frame, string? errorCode, string? errorMessage, ReadOnlyMemory<byte> id)
    {
        Frame = frame;
        ErrorCode = errorCode;
        ErrorMessage = errorMessage;
        Id = id;
    }

    public ClientFrame? Frame { get; }

    /// <summary>One of <see cref="ErrorCodes"/> when the frame was refused.</summary>
    public string? ErrorCode { get; }

    public string? ErrorMessage { get; }

    /// <summary>The refused frame's valid <c>id</c>, echoed in the error (empty when it had none).</summary>
    public ReadOnlyMemory<byte> Id { get; }

    public static ClientFrameParseResult Ok(ClientFrame frame) => new(frame, null, null, frame.Id);

    public static ClientFrameParseResult Error(string code, string message, ReadOnlyMemory<byte> id = default) =>
        new(null, code, message, id);
}
