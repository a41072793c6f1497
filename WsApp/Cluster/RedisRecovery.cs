using ServerlessWs.App.Connections;
using StackExchange.Redis;

namespace ServerlessWs.App.Cluster;

/// <summary>
/// When the connection to Redis comes back, this node re-asserts every claim it still holds a socket for (the
/// epoch decides who owns each id) and retries the releases that failed while Redis was away.
/// </summary>
internal sealed partial class RedisRecovery(IConnectionMultiplexer redis, NodeLifecycle manager, ILogger<RedisRecovery> logger) : IHostedService
{
    // Whether doorbells come over the interactive connection (RESP3 with a shared subscription connection, as Entra ID
    // connects): then its restore is also when they were missed; otherwise only the subscription's restore is.
    private readonly bool _doorbellsOnInteractive = ConfigurationOptions.Parse(redis.Configuration).SharedSubscriptionConnection;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed += OnFailed;
        redis.ConnectionRestored += OnRestored;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed -= OnFailed;
        redis.ConnectionRestored -= OnRestored;
        return Task.CompletedTask;
    }

    private void OnFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            Lost(logger, e.EndPoint?.ToString() ?? "?", e.FailureType.ToString());
        }
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            Restored(logger, e.EndPoint?.ToString() ?? "?");
            _ = ReassertThenCatchUpAsync();
        }
        else
        {
            // Doorbells published while the subscription was down are lost: each socket and each group catches up
            // from its log, so nothing waits for the next doorbell.
            manager.CatchUpClients();
            _ = manager.CatchUpGroupsAsync(startOver: false);
        }
    }

    /// <summary>
    /// Claims first, then what was missed: a group found lost closes its members, and their sessions must have their
    /// groups back (the re-assert restores them from the sockets) before they resume. When the doorbells come over
    /// this same connection no subscription restore follows, so the sockets catch up here.
    /// </summary>
    private async Task ReassertThenCatchUpAsync()
    {
        await manager.ReassertAllAsync();
        if (_doorbellsOnInteractive)
        {
            manager.CatchUpClients();
        }

        await manager.CatchUpGroupsAsync(startOver: true);
    }

    [LoggerMessage(1110, LogLevel.Warning, "Redis connection to {EndPoint} lost ({FailureType}); sockets stay open")]
    private static partial void Lost(ILogger logger, string endPoint, string failureType);

    [LoggerMessage(1111, LogLevel.Information, "Redis connection to {EndPoint} restored; re-asserting claims")]
    private static partial void Restored(ILogger logger, string endPoint);
}
