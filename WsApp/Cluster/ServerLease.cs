using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Cluster;

/// <summary>
/// Keeps this server's lease in Redis (docs/design.md: a server's entries are trusted only while its lease lives):
/// renewed every third of <c>Ws:LeaseSeconds</c>, so two renewals can fail before it lapses; dropped on a
/// graceful stop so cleanup need not wait for the TTL.
/// </summary>
internal sealed partial class ServerLease(
    ClusterRegistry registry,
    MessageRouter router,
    IOptions<WsOptions> options,
    TimeProvider time,
    ILogger<ServerLease> logger) : BackgroundService
{
    private readonly WsOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.LeaseSeconds / 3.0), time);
        do
        {
            await RenewAsync();
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await registry.DropLeaseAsync(_options.ServerId);
        }
        catch (StoreUnavailableException e)
        {
            // The lease lapses by itself; cleanup then handles this server like a crashed one.
            LeaseFailed(logger, _options.ServerId, e);
        }
    }

    private async Task RenewAsync()
    {
        var routed = 0L;
        try
        {
            // This node's share of the shared counter, added with each renewal rather than one write per message.
            routed = router.TakeAppendedCount();
            await registry.RenewLeaseAsync(_options.ServerId, TimeSpan.FromSeconds(_options.LeaseSeconds), routed);
        }
        catch (StoreUnavailableException e)
        {
            router.ReturnAppendedCount(routed);
            WsMetrics.RedisErrors.Add(1, new KeyValuePair<string, object?>("operation", "lease"));
            LeaseFailed(logger, _options.ServerId, e);
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(1100, LogLevel.Warning, "Lease of {ServerId} could not be written")]
    private static partial void LeaseFailed(ILogger logger, string serverId, Exception exception);
}
