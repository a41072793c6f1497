using Microsoft.Extensions.Logging;

namespace ServerlessWs.Core.Redis;

/// <summary>Log messages of the Redis parts: event ids 2000-2099. Never logs tokens or connection strings.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(2000, LogLevel.Warning, "Unreadable message on the inbox of {ServerId}")]
    public static partial void BadInboxMessage(ILogger logger, string serverId);
}
