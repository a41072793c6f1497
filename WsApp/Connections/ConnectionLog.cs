using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

/// <summary>Log messages of the WebSocket manager and its connections: event ids 1000-1099. Never logs tokens.</summary>
internal static partial class ConnectionLog
{
    [LoggerMessage(1000, LogLevel.Debug, "Client {ClientId} connected to {ServerId} (epoch {Epoch}, resumed {Resumed}, replayed {Replayed})")]
    public static partial void Connected(ILogger logger, string clientId, string serverId, long epoch, bool resumed, int replayed);

    [LoggerMessage(1001, LogLevel.Debug, "Client {ClientId} disconnected (close {CloseCode})")]
    public static partial void Disconnected(ILogger logger, string clientId, string closeCode);

    [LoggerMessage(1002, LogLevel.Information, "Client {ClientId} connection failed")]
    public static partial void ConnectionError(ILogger logger, string clientId, Exception exception);

    [LoggerMessage(1003, LogLevel.Information, "Client {ClientId} dropped: no pong within the heartbeat timeout")]
    public static partial void HeartbeatTimeout(ILogger logger, string clientId);

    [LoggerMessage(1004, LogLevel.Information, "Client {ClientId} taken over from {PreviousServerId}")]
    public static partial void TakenOver(ILogger logger, string clientId, string previousServerId);

    [LoggerMessage(1005, LogLevel.Information, "Connect refused with {StatusCode}: {Reason}")]
    public static partial void Refused(ILogger logger, int statusCode, string reason);

    [LoggerMessage(1006, LogLevel.Warning, "Client {ClientId} closed with {CloseCode}: {Reason}")]
    public static partial void ClosingForPolicy(ILogger logger, string clientId, int closeCode, string reason);

    [LoggerMessage(1007, LogLevel.Information, "Draining {Count} connections over {DrainSeconds} s")]
    public static partial void Draining(ILogger logger, int count, int drainSeconds);

    [LoggerMessage(1008, LogLevel.Warning, "Coordination store call {Operation} failed for client {ClientId}")]
    private static partial void StoreFailed(ILogger logger, string operation, string clientId, Exception exception);

    /// <summary>Logs a failed call to the store and counts it in <c>ws.redis.errors</c>.</summary>
    public static void StoreUnavailable(ILogger logger, string operation, string clientId, Exception exception)
    {
        StoreFailed(logger, operation, clientId, exception);
        WsMetrics.RedisErrors.Add(1, new KeyValuePair<string, object?>("operation", operation));
    }

    [LoggerMessage(1009, LogLevel.Information, "WebSocket node {ServerId} started")]
    public static partial void Started(ILogger logger, string serverId);

    [LoggerMessage(1010, LogLevel.Error, "Client {ClientId} connection ended by an unexpected error")]
    public static partial void UnexpectedError(ILogger logger, string clientId, Exception exception);
}
