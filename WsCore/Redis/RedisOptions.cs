using System.ComponentModel.DataAnnotations;

namespace ServerlessWs.Core.Redis;

/// <summary>The <c>Redis</c> configuration section. With neither a connection string nor a host, WsApp runs embedded.</summary>
public sealed class RedisOptions
{
    public const string SectionName = "Redis";

    /// <summary>A StackExchange.Redis configuration string (<c>host:port,password=…,ssl=true</c>).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Azure Managed Redis host name, used with <see cref="UseEntraId"/> (port 10000, TLS).</summary>
    public string? Host { get; set; }

    /// <summary>Authenticate with a Microsoft Entra ID token of the managed identity instead of a password.</summary>
    public bool UseEntraId { get; set; }

    /// <summary>Sharded pub/sub for inbox channels: null decides by the server (on for a cluster).</summary>
    public bool? ShardedPubSub { get; set; }

    /// <summary>How long a command may wait for Redis before it fails (and the client gets <c>unavailable</c>).</summary>
    [Range(100, 60_000, ErrorMessage = "Redis:CommandTimeoutMilliseconds must be between 100 and 60000.")]
    public int CommandTimeoutMilliseconds { get; set; } = 5000;

    public bool IsConfigured => !string.IsNullOrWhiteSpace(ConnectionString) || !string.IsNullOrWhiteSpace(Host);
}
