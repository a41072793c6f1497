using ServerlessWs.Chaos.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Faults;

/// <summary>Scenario 4: a node shut down (SIGTERM, as a scale-in does) under load.</summary>
public sealed class DrainTests
{
    [Fact]
    public async Task A_drained_node_closes_with_1001_and_its_clients_resume_elsewhere_losing_nothing()
    {
        var clients = ChaosSettings.Pick(600, 3000);
        await using var cluster = await ChaosCluster.StartAsync(nodes: 3, leaseSeconds: 3, cleanupSeconds: 1);
        await using var traffic = await Traffic.ConnectAsync(cluster, clients, "drain");
        var leaving = cluster.Nodes[1];
        var onLeaving = traffic.Clients.Where(c => c.ServerId == leaving.ServerId).ToList();

        await traffic.RunAsync(
            duration: TimeSpan.FromSeconds(ChaosSettings.Pick(10, 60)),
            perSender: 2,
            faultAfter: TimeSpan.FromSeconds(3),
            fault: async () =>
            {
                cluster.TakeOutOfRotation(leaving);
                await leaving.TerminateAsync(within: TimeSpan.FromSeconds(20));
            });

        var tally = await traffic.SettleAsync(TimeSpan.FromSeconds(30));
        var violations = await FaultScenario.CheckInvariantsAsync(cluster, [.. traffic.Clients], [leaving.ServerId], TimeSpan.FromSeconds(15));
        FaultScenario.RecordAndAssert("4. graceful drain (SIGTERM)", clients, tally, violations, cleanup: null,
            $"SIGTERM to 1 of 3 node processes (Ws:DrainSeconds 2) under {clients / 2} senders x 2 msg/s; {onLeaving.Count} clients moved");

        Assert.Equal(0, leaving.ExitCode);
        Assert.NotEmpty(onLeaving);
        Assert.All(onLeaving, c => Assert.Equal(["1001"], c.Closes));
        Assert.All(onLeaving, c => Assert.NotEqual(leaving.ServerId, c.ServerId));
    }
}
