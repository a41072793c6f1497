namespace ServerlessWs.Core.Protocol;

/// <summary>WebSocket close codes of the wire contract (docs/protocol.md §3).</summary>
public static class CloseCodes
{
    /// <summary>Normal close, by either side.</summary>
    public const int Normal = 1000;

    /// <summary>The server is draining (shutdown or scale-in); reconnect with the resume token.</summary>
    public const int Draining = 1001;

    /// <summary>Invalid UTF-8 in a text frame (RFC 6455 §8.1); sent by the WebSocket layer itself.</summary>
    public const int InvalidPayload = 1007;

    /// <summary>Policy violation: repeated bad frames, a binary frame, or a client too slow to read its backlog.</summary>
    public const int PolicyViolation = 1008;

    /// <summary>A message larger than <c>Ws:MaxMessageBytes</c>.</summary>
    public const int MessageTooBig = 1009;

    /// <summary>The server failed while serving this connection (RFC 6455 §7.4.1); reconnect with the resume token.</summary>
    public const int InternalError = 1011;

    /// <summary>Taken over: the same clientId connected elsewhere with a valid resume token.</summary>
    public const int TakenOver = 4000;

    /// <summary>Closed by an administrator.</summary>
    public const int ClosedByAdmin = 4001;

    /// <summary>Heartbeat timeout: no pong within the timeout (the server may also just abort).</summary>
    public const int HeartbeatTimeout = 4408;
}
