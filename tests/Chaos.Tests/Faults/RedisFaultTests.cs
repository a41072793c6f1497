using ServerlessWs.Chaos.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Faults;

/// <summary>
/// Scenario 2: Redis restarted (with AOF persistence, <c>appendfsync always</c>, so the data survives and "nothing
/// lost" is a fair demand) and Redis paused (<c>CLIENT PAUSE</c> 5 s), each under load. Sockets must stay open:
/// during the fault sends answer <c>unavailable</c> (in doubt to the sender), nothing acknowledged may be lost.
/// </summary>
public sealed class RedisFaultTests
{
    // Resident memory a node may gain from the fault on: a bound against runaway growth (nothing is buffered while
    // Redis is away: the backlog policy fails fast), with room for the GC's own growth under the load, which is
    // 20-25 MiB with 200 clients a node (short variant) and 60-70 MiB with 1,000 (long). The table reports the figure.
    private const long MemoryGrowthBound = 128L << 20;

    [Fact]
    public async Task A_Redis_restart_drops_no_socket_and_loses_nothing_acknowledged()
    {
        var dir = Directory.CreateTempSubdirectory("chaos-redis-");
        try
        {
            await RunAsync(
                "2a. Redis restart (AOF)",
                ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir.FullName],
                cluster => cluster.Redis.RestartAsync(downtime: TimeSpan.FromSeconds(2)),
                "redis-server killed and restarted after 2 s");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_Redis_pause_drops_no_socket_and_loses_nothing_acknowledged()
    {
        await RunAsync(
            "2b. Redis pause (CLIENT PAUSE 5 s)",
            [],
            async cluster => await cluster.Db.ExecuteAsync("CLIENT", "PAUSE", "5000", "ALL"),
            "CLIENT PAUSE 5000 ALL");
    }

    private static async Task RunAsync(string scenario, string[] redisArguments, Func<ChaosCluster, Task> fault, string notes)
    {
        var clients = ChaosSettings.Pick(600, 3000);
        await using var cluster = await ChaosCluster.StartAsync(nodes: 3, leaseSeconds: 15, cleanupSeconds: 1, redisArguments);
        await using var traffic = await Traffic.ConnectAsync(cluster, clients, "redis");
        await traffic.JoinGroupsAsync("redis", groups: ChaosSettings.Pick(4, 8), perNode: ChaosSettings.Pick(2, 5));
        using var sampling = new CancellationTokenSource();
        var peaks = Task.FromResult(new Dictionary<string, long>());
        var before = new Dictionary<string, long>();

        await traffic.RunAsync(
            duration: TimeSpan.FromSeconds(ChaosSettings.Pick(12, 60)),
            perSender: 2,
            faultAfter: TimeSpan.FromSeconds(3),
            fault: () =>
            {
                // Measured from the fault on, so the growth is the fault's, not the warm-up's.
                before = cluster.Nodes.ToDictionary(n => n.ServerId, n => n.RssBytes);
                peaks = SamplePeakRssAsync(cluster.Nodes, sampling.Token);
                return fault(cluster);
            });

        var tally = await traffic.SettleAsync(TimeSpan.FromSeconds(30));
        await sampling.CancelAsync();
        var peak = await peaks;
        var violations = await FaultScenario.CheckInvariantsAsync(cluster, [.. traffic.Clients], [], TimeSpan.FromSeconds(15));
        var growth = cluster.Nodes.Max(n => peak[n.ServerId] - before[n.ServerId]);
        FaultScenario.RecordAndAssert(scenario, clients, tally, violations, cleanup: null,
            $"{notes}, under {clients / 2} senders x 2 msg/s; largest node RSS growth {growth >> 20} MiB");

        Assert.All(cluster.Nodes, n => Assert.False(n.HasExited, $"{n.ServerId} exited:\n{n.Output}"));
        Assert.All(traffic.Clients, c => Assert.Empty(c.Closes));
        Assert.True(growth < MemoryGrowthBound, $"a node grew by {growth >> 20} MiB");
    }

    private static async Task<Dictionary<string, long>> SamplePeakRssAsync(IReadOnlyList<NodeProcess> nodes, CancellationToken stop)
    {
        var peak = nodes.ToDictionary(n => n.ServerId, n => n.RssBytes);
        while (!stop.IsCancellationRequested)
        {
            foreach (var node in nodes.Where(n => !n.HasExited))
            {
                peak[node.ServerId] = Math.Max(peak[node.ServerId], node.RssBytes);
            }

            await Task.Delay(200, CancellationToken.None);
        }

        return peak;
    }
}
