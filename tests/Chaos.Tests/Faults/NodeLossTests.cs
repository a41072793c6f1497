using ServerlessWs.Chaos.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Faults;

/// <summary>
/// Scenarios 1 and 4: one of three node processes lost under load, by a crash (<c>kill -9</c>) or by a scale-in
/// (<c>SIGTERM</c>, drained). Its clients resume on the others; nothing acknowledged may be lost, and nothing of the
/// node may stay in Redis.
/// </summary>
public sealed class NodeLossTests
{
    private const int LeaseSeconds = 3;
    private static readonly TimeSpan CleanupPeriod = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_killed_node_loses_no_message_and_its_entries_are_cleaned_up()
    {
        var run = await RunAsync("1. node crash (kill -9)", ChaosSettings.Pick(1000, 3000), "kill -9 of", node => node.KillAsync());

        // The crash really hit clients: their sockets broke without a close frame.
        Assert.All(run.Moved, c => Assert.Contains("abort", c.Closes));
        var bound = TimeSpan.FromSeconds(LeaseSeconds) + CleanupPeriod;
        Assert.True(run.Cleanup <= bound + TimeSpan.FromSeconds(0.5), $"cleanup took {run.Cleanup}, bound {bound}");
    }

    [Fact]
    public async Task A_drained_node_closes_with_1001_and_its_clients_resume_elsewhere_losing_nothing()
    {
        var run = await RunAsync("4. graceful drain (SIGTERM)", ChaosSettings.Pick(600, 3000), "SIGTERM (Ws:DrainSeconds 2) to",
            node => node.TerminateAsync(within: TimeSpan.FromSeconds(20)));

        Assert.Equal(0, run.Lost.ExitCode);
        Assert.All(run.Moved, c => Assert.Equal(["1001"], c.Closes));
    }

    /// <summary>Runs the load, loses node 1 three seconds in, settles, then checks, records and asserts what all node losses share.</summary>
    private static async Task<(NodeProcess Lost, List<ChaosClient> Moved, TimeSpan? Cleanup)> RunAsync(string scenario, int clients, string how, Func<NodeProcess, Task> lose)
    {
        await using var cluster = await ChaosCluster.StartAsync(nodes: 3, LeaseSeconds, CleanupPeriod.TotalSeconds);
        await using var traffic = await Traffic.ConnectAsync(cluster, clients, "loss");
        await traffic.JoinGroupsAsync("loss", groups: ChaosSettings.Pick(4, 8), perNode: ChaosSettings.Pick(2, 5));
        var lost = cluster.Nodes[0];
        var moved = traffic.Clients.Where(c => c.ServerId == lost.ServerId).ToList();
        var cleanup = Task.FromResult<TimeSpan?>(null);

        await traffic.RunAsync(
            duration: TimeSpan.FromSeconds(ChaosSettings.Pick(10, 60)),
            perSender: 2,
            faultAfter: TimeSpan.FromSeconds(3),
            fault: async () =>
            {
                cluster.TakeOutOfRotation(lost);
                await lose(lost);
                cleanup = FaultScenario.TimeCleanupAsync(cluster, lost.ServerId, TimeSpan.FromSeconds(30));
            });

        var tally = await traffic.SettleAsync(TimeSpan.FromSeconds(30));
        var cleanupTime = await cleanup;
        var violations = await FaultScenario.CheckInvariantsAsync(cluster, [.. traffic.Clients], [lost.ServerId], TimeSpan.FromSeconds(15));
        FaultScenario.RecordAndAssert(scenario, clients, tally, violations, cleanupTime,
            $"{how} 1 of 3 node processes under {clients / 2} senders x 2 msg/s; {moved.Count} clients moved");
        Assert.NotEmpty(moved);
        Assert.All(moved, c => Assert.NotEqual(lost.ServerId, c.ServerId));
        Assert.NotNull(cleanupTime);
        return (lost, moved, cleanupTime);
    }
}
