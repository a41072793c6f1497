using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Redis;
using ServerlessWs.Functions.Reconcile;
using StackExchange.Redis;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Functions.Tests;

/// <summary>The reconciler on a real redis-server: each event kind, idempotence, dead consumers, poison entries.</summary>
public sealed class ReconcileTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task AClaimIsIndexedUnderItsServerAndAsConnected()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await f.Store.ClaimAsync("alice", null, 0, "s1", None);

        await f.ReconcileAllAsync();

        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.ServerClients("s1"), "alice"));
        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.Clients, "alice"));
        Assert.Empty(await f.Db.StreamPendingMessagesAsync(RedisKeys.Events, ReconcileOptions.Group, 10, RedisValue.Null));
    }

    [Fact]
    public async Task ATakeoverMovesTheIndexCountsOnceAndKicksTheOldServerAgain()
    {
        await using var f = await FunctionsHarness.StartAsync();
        var first = await f.Store.ClaimAsync("alice", null, 0, "s1", None);
        var second = await f.Store.ClaimAsync("alice", first.ResumeToken, 0, "s2", None);
        var kicks = new List<byte[]>();
        var inbox = await f.Client.GetSubscriber().SubscribeAsync(RedisKeys.Inbox("s1", sharded: false));
        inbox.OnMessage(m => kicks.Add((byte[])m.Message!));

        await f.ReconcileAllAsync();

        Assert.Null(await f.Db.SortedSetScoreAsync(RedisKeys.ServerClients("s1"), "alice"));
        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.ServerClients("s2"), "alice"));
        Assert.Equal(1, (long)await f.Db.HashGetAsync(RedisKeys.Stats, StatsFields.Takeovers));
        await Eventually.TrueAsync(() => kicks.Count == 1);
        Assert.Equal(InboxCodec.EncodeKick("alice", second.Epoch - 1, 4000), kicks[0]);
    }

    [Fact]
    public async Task AReleaseUnindexesOnlyWhenNoNewerClaimHoldsTheId()
    {
        await using var f = await FunctionsHarness.StartAsync();
        var a = await f.Store.ClaimAsync("alice", null, 0, "s1", None);
        var b = await f.Store.ClaimAsync("bob", null, 0, "s1", None);
        await f.Store.ReleaseAsync("alice", a.Epoch, None);
        // bob moves to s2, then the old socket's release (fenced, a no-op) arrives too late to matter.
        await f.Store.ClaimAsync("bob", b.ResumeToken, 0, "s2", None);
        await f.Store.ReleaseAsync("bob", b.Epoch, None);

        await f.ReconcileAllAsync();

        Assert.Null(await f.Db.SortedSetScoreAsync(RedisKeys.Clients, "alice"));
        Assert.Null(await f.Db.SortedSetScoreAsync(RedisKeys.ServerClients("s1"), "alice"));
        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.Clients, "bob"));
        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.ServerClients("s2"), "bob"));
    }

    [Fact]
    public async Task ServerDownDropsTheServersIndex()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await f.Store.ClaimAsync("alice", null, 0, "s1", None);
        await f.ReconcileAllAsync();

        await f.Db.StreamAddAsync(RedisKeys.Events, [new("type", "server-down"), new("server", "s1")]);
        await f.ReconcileAllAsync();

        Assert.False(await f.Db.KeyExistsAsync(RedisKeys.ServerClients("s1")));
    }

    [Fact]
    public async Task TheSameEventHandledTwiceChangesNothingMore()
    {
        await using var f = await FunctionsHarness.StartAsync();
        var first = await f.Store.ClaimAsync("alice", null, 0, "s1", None);
        await f.Store.ClaimAsync("alice", first.ResumeToken, 0, "s2", None);
        await f.ReconcileAllAsync();
        var events = await f.Db.StreamRangeAsync(RedisKeys.Events);

        foreach (var entry in events.Select(ClusterEventCodec.Read))
        {
            await f.Reconcile.HandleAsync(entry.Id, entry.Event!);
        }

        Assert.Equal(1, (long)await f.Db.HashGetAsync(RedisKeys.Stats, StatsFields.Takeovers));
        Assert.Equal(["alice"], (await f.Db.SortedSetRangeByRankAsync(RedisKeys.ServerClients("s2"))).Select(v => (string)v!));
        Assert.Equal(0, await f.Db.SortedSetLengthAsync(RedisKeys.ServerClients("s1")));
        Assert.Equal(1, await f.Db.SortedSetLengthAsync(RedisKeys.Clients));
    }

    /// <summary>
    /// Regression (issue 17 item 8): every takeover left a <c>ws:reconciled:&lt;eventId&gt;</c> key for a day, and a client
    /// can take itself over on every connect, so one client could grow Redis without bound. Counting once now keeps
    /// the ids in one capped key.
    /// </summary>
    [Fact]
    public async Task ManyTakeoversAreCountedOnceEachInOneBoundedKeyNotOneKeyPerTakeover()
    {
        await using var f = await FunctionsHarness.StartAsync();
        var claim = await f.Store.ClaimAsync("alice", null, 0, "s0", None);
        for (var i = 1; i <= 200; i++)
        {
            claim = await f.Store.ClaimAsync("alice", claim.ResumeToken, 0, $"s{i % 2}", None);
        }

        await f.ReconcileAllAsync();

        Assert.Equal(200, (long)await f.Db.HashGetAsync(RedisKeys.Stats, StatsFields.Takeovers));
        var markers = f.Client.GetServers().Single().Keys(pattern: "ws:reconciled*").ToArray();
        Assert.True(markers.Length <= 1, $"{markers.Length} marker keys");
    }

    [Fact]
    public async Task AnEntryLeftPendingByADeadConsumerIsClaimedAndHandled()
    {
        await using var f = await FunctionsHarness.StartAsync(reconcile: new ReconcileOptions { ConsumerName = "live", ClaimIdleSeconds = 1 });
        await f.Store.ClaimAsync("alice", null, 0, "s1", None);
        await f.Db.StreamCreateConsumerGroupAsync(RedisKeys.Events, ReconcileOptions.Group, "0-0");
        // Another consumer reads the entry and dies before acknowledging it.
        Assert.Single(await f.Db.StreamReadGroupAsync(RedisKeys.Events, ReconcileOptions.Group, "dead", StreamPosition.NewMessages));

        Assert.Equal(0, await f.Consumer.RunOnceAsync());
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        Assert.Equal(1, await f.Consumer.RunOnceAsync());

        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.Clients, "alice"));
        Assert.Empty(await f.Db.StreamPendingMessagesAsync(RedisKeys.Events, ReconcileOptions.Group, 10, RedisValue.Null));
    }

    [Fact]
    public async Task APoisonEntryIsRetriedThenParkedInTheDeadLetterStream()
    {
        await using var f = await FunctionsHarness.StartAsync(reconcile: new ReconcileOptions { ConsumerName = "live", ClaimIdleSeconds = 1, MaxAttempts = 2 });
        var poison = await f.Db.StreamAddAsync(RedisKeys.Events, [new("type", "claimed"), new("server", "s1")]);
        await f.Store.ClaimAsync("alice", null, 0, "s1", None);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await f.Db.StreamLengthAsync(RedisKeys.DeadLetters)) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the poison entry was parked in time");
            await f.Consumer.RunOnceAsync();
            await Task.Delay(TimeSpan.FromSeconds(1.1));
        }

        var parked = Assert.Single(await f.Db.StreamRangeAsync(RedisKeys.DeadLetters));
        Assert.Equal((string?)poison, (string?)parked["id"]);
        Assert.Equal("claimed", (string?)parked["type"]);
        Assert.Empty(await f.Db.StreamPendingMessagesAsync(RedisKeys.Events, ReconcileOptions.Group, 10, RedisValue.Null));
        // The good entry behind it was handled all the same.
        Assert.Equal(0, await f.Db.SortedSetScoreAsync(RedisKeys.Clients, "alice"));
    }
}
