using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.Functions.Cleanup;

/// <summary>
/// Finds servers whose lease expired (crashed, or cut off) and releases what they still own, each entry only
/// while that server still owns it, so a client that already reconnected elsewhere is never touched; the registry
/// then drops the server's index and its <c>ws:servers</c> entry and says <c>server-down</c>. Then mends the
/// connected-client indexes both ways: re-adds connected sessions they miss (a lost event, a store that restarted
/// empty) and prunes ids no longer connected (their sessions expire in Redis by TTL).
/// </summary>
public sealed partial class CleanupStaleEntries(ClusterRegistry registry, IOptions<CleanupOptions> options, ILogger<CleanupStaleEntries> logger)
{
    [Function(nameof(CleanupStaleEntries))]
    public async Task Run([TimerTrigger("%Cleanup:Schedule%")] TimerInfo timer, CancellationToken cancellationToken) =>
        await RunOnceAsync(cancellationToken);

    /// <summary>One cleanup pass; returns what it changed.</summary>
    public async Task<CleanupReport> RunOnceAsync(CancellationToken cancellationToken)
    {
        // Repaired first: a session the dead server's index missed is then released with the others.
        var repaired = await registry.RepairIndexesAsync(options.Value.RepairKeysPerRun);
        var deadServers = await registry.DeadServersAsync();
        var released = 0;
        foreach (var serverId in deadServers)
        {
            var releasedHere = await registry.ReleaseDeadServerAsync(serverId, cancellationToken);
            released += releasedHere;
            ServerDown(logger, serverId, releasedHere);
        }

        if (released > 0)
        {
            WsMetrics.CleanupRemoved.Add(released);
        }

        return new CleanupReport(deadServers, released, await registry.PruneClientIndexAsync(), repaired);
    }

    [LoggerMessage(3100, LogLevel.Information, "Server {ServerId} is down (lease expired); {Released} of its entries released")]
    private static partial void ServerDown(ILogger logger, string serverId, int released);
}

/// <summary>What one cleanup pass did: servers found dead, entries released, index entries pruned and re-added.</summary>
public sealed record CleanupReport(IReadOnlyList<string> DeadServers, int Released, int Pruned, int Repaired = 0);
