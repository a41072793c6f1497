using System.Diagnostics;
using System.Globalization;
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
        if (tally.Groups is { } groups)
        {
            RecordGroups(scenario, groups);
        }

        Assert.True(tally.Sent > 0, "nothing was acknowledged: the load did not run");
        Assert.Empty(violations);
        Assert.Empty(tally.Failures);
        Assert.Equal(0, tally.Lost);
        Assert.Equal(0, tally.Duplicated);
        Assert.Equal(0, tally.OutOfOrder);
        Assert.Equal(0, tally.SeqBreaks);
        Assert.Equal(0, tally.NotRecovered);
        Assert.Equal(0, tally.Unexpected);
        if (tally.Groups is { } g)
        {
            AssertGroups(g);
        }
    }

    /// <summary>
    /// The group stream's row (docs/protocol.md §5b), below the scenario's direct row: sent counts deliveries owed
    /// (each message acked <c>delivered</c>, once per member but its sender), so lost and received compare with it.
    /// </summary>
    private static void RecordGroups(string scenario, GroupTally groups) =>
        ReliabilityReport.Record(new ScenarioFigures($"{scenario}: group stream")
        {
            Clients = groups.Members,
            Sent = groups.Sent,
            Received = groups.Received,
            Lost = groups.Lost,
            Duplicated = groups.Duplicated,
            OutOfOrder = groups.OutOfOrder,
            Violations = (int)groups.Violations,
            Notes = string.Create(CultureInfo.InvariantCulture,
                $"same run: {groups.Groups} groups, each with members on every node (every member in 2 groups; {groups.MemberResumes} member resumes, each naming a since per group), 2 senders per group (a member and a non-member); {groups.Messages:N0} group messages acked delivered, owed to {groups.Sent:N0} member deliveries; {groups.InDoubt:N0} group sends in doubt, not counted as sent{(groups.OwnEchoes > 0 ? "; violations include " + groups.OwnEchoes.ToString("N0", CultureInfo.InvariantCulture) + " messages echoed to their member sender" : string.Empty)}"),
        });

    private static void AssertGroups(GroupTally g)
    {
        var details = string.Join('\n', g.Details.Take(20));
        Assert.True(g.Messages > 0, "no group message was acknowledged: the group load did not run");
        Assert.True(g.Lost == 0, $"{g.Lost} group deliveries lost:\n{details}");
        Assert.True(g.GseqMismatches == 0, $"{g.GseqMismatches} group messages reached members at different gseqs:\n{details}");
        Assert.Equal(0, g.Duplicated);
        Assert.Equal(0, g.OutOfOrder);
        Assert.Equal(0, g.GseqBreaks);
        Assert.Equal(0, g.NotRecovered);
        Assert.Equal(0, g.MissingGroups);
        Assert.Equal(0, g.Unexpected);
        Assert.True(g.OwnEchoes == 0, $"{g.OwnEchoes} group messages came back to their own sender (docs/protocol.md §5b: the sender never receives its own group message, even when it is a member)");
    }
}
