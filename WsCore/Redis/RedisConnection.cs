using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>Builds the one <see cref="ConnectionMultiplexer"/> a process shares, with the settings this design relies on.</summary>
public static class RedisConnection
{
    public static ConfigurationOptions CreateConfiguration(RedisOptions options, string clientName)
    {
        var configuration = string.IsNullOrWhiteSpace(options.ConnectionString)
            ? new ConfigurationOptions { EndPoints = { { options.Host!, 10000 } }, Ssl = true }
            : ConfigurationOptions.Parse(options.ConnectionString);

        // Start and keep retrying while Redis is away: sockets stay open without it (docs/design.md invariant 4).
        configuration.AbortOnConnectFail = false;
        // Fail at once while disconnected instead of queueing: no unbounded buffer grows during an outage, and a
        // client's send gets `unavailable` rather than hanging.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.AsyncTimeout = options.CommandTimeoutMilliseconds;
        configuration.SyncTimeout = options.CommandTimeoutMilliseconds;
        configuration.ClientName = clientName;
        return configuration;
    }
}
