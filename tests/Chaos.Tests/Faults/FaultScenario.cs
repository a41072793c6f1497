using System.Diagnostics;
using ServerlessWs.Chaos.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Faults;

/// <summary>The end every fault scenario shares: settle, check the invariants, record the figures, assert them.</summary>
internal static class FaultScenario
{
    /// <summary>Checks the invariants until they hold or <paramref name="within"/> passes (the reconciled indexes lag a little).</summary>
    public static async Task<IReadOnlyList<string>> CheckInvariantsAsync(
        ChaosCluster cluster, IReadOnlyCollection<ChaosClient> clients, IEnumerable<string> goneServers, TimeSpan within)
    {
        IReadOnlyList<string> violations = [];
        await Eventually.WithinAsync(async () => (violations = await InvariantChecker.CheckAtRestAsync(cluster, clients, goneServers)).Count == 0, within, TimeSpan.FromMilliseconds(200));
        return violations;
    }

    /// <summary>From now until Redis holds nothing more of <paramref name="serverId"/>; bounded by <paramref name="within"/>.</summary>
    public static async Task<TimeSpan?> TimeCleanupAsync(ChaosCluster cluster, string serverId, TimeSpan within)
    {
        var watch = Stopwatch.StartNew();
        var clean = await Eventually.WithinAsync(async () => (await InvariantChecker.StaleEntriesAsync(cluster.Db, serverId)).Count == 0, within, TimeSpan.FromMilliseconds(50));
        return clean ? watch.Elapsed : null;
    }

    public static void RecordAndAssert(string scenario, int clients, TrafficTally tally, IReadOnlyList<string> violations, TimeSpan? cleanup, string notes)
    {
        ReliabilityReport.Record(new ScenarioFigures(scenario)
        {
            Clients = clients,
            Sent = tally.Sent,
            Received = tally.Received,
            Lost = tally.Lost,
            Duplicated = tally.Duplicated,
            OutOfOrder = tally.OutOfOrder,
            Violations = violations.Count + tally.Failures.Count + (int)tally.SeqBreaks + (int)tally.NotRecovered + (int)tally.Unexpected,
            CleanupTime = cleanup,
            Notes = $"{notes}; {tally.InDoubt:N0} sends in doubt (no ack: socket broke or store unavailable), not counted as sent",
        });

        Assert.True(tally.Sent > 0, "nothing was acknowledged: the load did not run");
        Assert.Empty(violations);
        Assert.Empty(tally.Failures);
        Assert.Equal(0, tally.Lost);
        Assert.Equal(0, tally.Duplicated);
        Assert.Equal(0, tally.OutOfOrder);
        Assert.Equal(0, tally.SeqBreaks);
        Assert.Equal(0, tally.NotRecovered);
        Assert.Equal(0, tally.Unexpected);
    }
}
