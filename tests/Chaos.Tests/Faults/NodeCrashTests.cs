using System.Diagnostics;
using ServerlessWs.Chaos.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Faults;

/// <summary>Scenario 1: <c>kill -9</c> of one of three nodes under load.</summary>
public sealed class NodeCrashTests
{
    [Fact]
    public async Task A_killed_node_loses_no_message_and_its_entries_are_cleaned_up()
    {
        var clients = ChaosSettings.Pick(1000, 3000);
        await using var cluster = await ChaosCluster.StartAsync(nodes: 3, leaseSeconds: 3, cleanupSeconds: 1);
        await using var traffic = await Traffic.ConnectAsync(cluster, clients, "crash");
        var victim = cluster.Nodes[0];
        var onVictim = traffic.Clients.Where(c => c.ServerId == victim.ServerId).ToList();
        Task<TimeSpan?> cleanup = Task.FromResult<TimeSpan?>(null);

        await traffic.RunAsync(
            duration: TimeSpan.FromSeconds(ChaosSettings.Pick(10, 60)),
            perSender: 2,
            faultAfter: TimeSpan.FromSeconds(3),
            fault: async () =>
            {
                cluster.TakeOutOfRotation(victim);
                await victim.KillAsync();
                cleanup = FaultScenario.TimeCleanupAsync(cluster, victim.ServerId, TimeSpan.FromSeconds(30));
            });

        var tally = await traffic.SettleAsync(TimeSpan.FromSeconds(30));
        var cleanupTime = await cleanup;
        var violations = await FaultScenario.CheckInvariantsAsync(cluster, [.. traffic.Clients], [victim.ServerId], TimeSpan.FromSeconds(15));
        FaultScenario.RecordAndAssert("1. node crash (kill -9)", clients, tally, violations, cleanupTime,
            $"kill -9 of 1 of 3 node processes under {clients / 2} senders x 2 msg/s; {onVictim.Count} clients moved");

        // The crash really hit clients, and each of them came back on another node.
        Assert.NotEmpty(onVictim);
        Assert.All(onVictim, c => Assert.Contains("abort", c.Closes));
        Assert.All(onVictim, c => Assert.NotEqual(victim.ServerId, c.ServerId));
        Assert.NotNull(cleanupTime);
        var bound = TimeSpan.FromSeconds(cluster.LeaseSeconds) + cluster.CleanupPeriod;
        Assert.True(cleanupTime <= bound + TimeSpan.FromSeconds(0.5), $"cleanup took {cleanupTime}, bound {bound}");
    }
}
