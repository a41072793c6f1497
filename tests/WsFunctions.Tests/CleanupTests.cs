using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Redis;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// CleanupStaleEntries against a real redis-server and a real WsApp node. A crashed server is one whose lease is
/// gone while its entries stay: here server <c>crashed</c> claims ids and never renews a lease, exactly the state
/// a killed process leaves behind (the chaos suite kills real processes).
/// </summary>
public sealed class CleanupTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task ADeadServersEntriesAreReleasedAndSendsToThemAnswerQueued()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var live = await WsNode.StartOnRedisAsync(f.Redis, "live");
        await using var sender = await TestClient.ConnectAsync(live, "clientId=sender");
        await CrashedServerOwnsAsync(f, "orphan-1", "orphan-2");

        // Before cleanup a send still finds the dead owner "connected" (docs/protocol.md §5a allows `delivered` here).
        await sender.SendAsync(Frames.Send("orphan-1", "1", id: "before"));
        Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());

        var report = await f.Cleanup.RunOnceAsync(None);

        Assert.Equal(["crashed"], report.DeadServers);
        Assert.Equal(2, report.Released);
        Assert.Null((await f.Store.GetSessionAsync("orphan-1", None))!.Server);
        Assert.False(await f.Db.KeyExistsAsync(RedisKeys.ServerClients("crashed")));
        Assert.Null(await f.Db.SortedSetScoreAsync(RedisKeys.Servers, "crashed"));
        Assert.NotNull(await f.Db.SortedSetScoreAsync(RedisKeys.Servers, "live"));
        Assert.Equal(2, (long)await f.Db.HashGetAsync(RedisKeys.Stats, StatsFields.StaleRemoved));
        var events = await f.Db.StreamRangeAsync(RedisKeys.Events);
        Assert.Contains(events, e => e["type"] == "server-down" && e["server"] == "crashed");
        // Each release said per client, as a node's own release is (the upstream dispatcher's `disconnected`).
        Assert.Equal(["orphan-1", "orphan-2"], events.Where(e => e["type"] == "released" && e["server"] == "crashed").Select(e => (string)e["clientId"]!).Order(StringComparer.Ordinal));
        await sender.SendAsync(Frames.Send("orphan-1", "2", id: "after"));
        Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
    }

    [Fact]
    public async Task AClientThatMovedToALiveNodeKeepsItsEntryEvenIfTheIndexStillListsItUnderTheDeadOne()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var live = await WsNode.StartOnRedisAsync(f.Redis, "live");
        var tokens = await CrashedServerOwnsAsync(f, "mover", "stayer");
        await using var moved = await TestClient.ConnectAsync(live, $"clientId=mover&resumeToken={tokens["mover"]}");
        // The index lags: it still lists the mover under the dead server.
        await f.Db.SortedSetAddAsync(RedisKeys.ServerClients("crashed"), "mover", 0);

        var report = await f.Cleanup.RunOnceAsync(None);

        Assert.Equal(1, report.Released);
        Assert.Equal("live", (await f.Store.GetSessionAsync("mover", None))!.Server);
        Assert.Null((await f.Store.GetSessionAsync("stayer", None))!.Server);
        await moved.AssertAliveAsync();
    }

    [Fact]
    public async Task AServerWithALiveLeaseIsLeftAlone()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var live = await WsNode.StartOnRedisAsync(f.Redis, "live");
        await using var client = await TestClient.ConnectAsync(live, "clientId=alice");
        await f.ReconcileAllAsync();

        var report = await f.Cleanup.RunOnceAsync(None);

        Assert.Empty(report.DeadServers);
        Assert.Equal("live", (await f.Store.GetSessionAsync("alice", None))!.Server);
        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.ServerClients("live"), "alice"));
    }

    [Fact]
    public async Task TheConnectedIndexIsPrunedOfIdsNoLongerConnected()
    {
        await using var f = await FunctionsHarness.StartAsync();
        var claim = await f.Store.ClaimAsync("gone", null, 0, "s1", None);
        await f.Db.SortedSetAddAsync(RedisKeys.Clients, "gone", 0);
        await f.Store.ReleaseAsync("gone", claim.Epoch, None);

        var report = await f.Cleanup.RunOnceAsync(None);

        Assert.Equal(1, report.Pruned);
        Assert.Null(await f.Db.SortedSetScoreAsync(RedisKeys.Clients, "gone"));
    }

    /// <summary>
    /// Regression (issue 17 item 9): the prune only ever examined the first 1,000 ids of ws:clients, so stale entries
    /// past them were never removed. Every id is examined, a page at a time.
    /// </summary>
    [Fact]
    public async Task ThePruneExaminesEveryIdOfTheConnectedIndexNotJustTheFirstThousand()
    {
        await using var f = await FunctionsHarness.StartAsync();
        // 2,500 ids whose sessions are gone, and one connected id ordered after all of them.
        await f.Db.SortedSetAddAsync(RedisKeys.Clients, [.. Enumerable.Range(0, 2500).Select(i => new StackExchange.Redis.SortedSetEntry($"gone-{i:D4}", 0))]);
        await f.Store.ClaimAsync("zz-live", null, 0, "s1", None);
        await f.Db.SortedSetAddAsync(RedisKeys.Clients, "zz-live", 0);

        var report = await f.Cleanup.RunOnceAsync(None);

        Assert.Equal(2500, report.Pruned);
        Assert.Equal(["zz-live"], (await f.Db.SortedSetRangeByRankAsync(RedisKeys.Clients)).Select(v => (string)v!));
    }

    /// <summary>Server <c>crashed</c> claims the ids, is listed in ws:servers, is reconciled, and has no lease.</summary>
    private static async Task<Dictionary<string, string>> CrashedServerOwnsAsync(FunctionsHarness f, params string[] ids)
    {
        var tokens = new Dictionary<string, string>();
        foreach (var id in ids)
        {
            tokens[id] = (await f.Store.ClaimAsync(id, null, 0, "crashed", None)).ResumeToken;
        }

        await f.Db.SortedSetAddAsync(RedisKeys.Servers, "crashed", 0);
        await f.ReconcileAllAsync();
        return tokens;
    }
}
