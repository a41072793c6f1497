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
        if (options.UseEntraId)
        {
            // Pub/sub on the interactive connection (RESP3 only): the AUTH sent after each token refresh
            // (EntraIdRedisAuth) then re-authenticates the connection that hears doorbells and kicks too. A separate
            // subscription connection cannot be re-authenticated in place, and Azure closes it when its token expires:
            // what was published meanwhile would be missed. The cost: the server applies its pub/sub output-buffer
            // limits to this connection, so a burst of very large replies can get it closed; it reconnects and the
            // node catches up from the logs (RedisRecovery), as after any outage.
            configuration.Protocol = RedisProtocol.Resp3;
            configuration.SharedSubscriptionConnection = true;
        }

        return configuration;
    }
}
