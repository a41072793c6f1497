using System.Text;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Upstream;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.Core.Tests.Upstream;

/// <summary>
/// The upstream event log's contract on a real redis-server (a fresh one per test: its keys are the deployment's, not
/// a test's): order per client, the bound that refuses instead of trimming, acknowledgement that deletes, the leases,
/// dead letters and their replay.
/// </summary>
public sealed class UpstreamEventLogTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private ConnectionMultiplexer _client = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _client = await _redis.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public void AClientsPartitionIsAStableHashOfItsId()
    {
        // Pinned: a change would split the order of the events a running deployment holds.
        string[] ids = ["alice", "bob", "carol", "dave"];
        Assert.Equal([7, 4, 2, 7], ids.Select(id => UpstreamEventLog.PartitionOf(id, 8)));
        Assert.Equal(8, Enumerable.Range(0, 200).Select(i => UpstreamEventLog.PartitionOf($"client-{i}", 8)).Distinct().Count());
    }

    [Fact]
    public async Task AClientsEventsAreReadBackInOrderWithEveryFieldAsStored()
    {
        var log = Log(new UpstreamOptions { Partitions = 2 });
        var time = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        var sent = Enumerable.Range(0, 20)
            .Select(i => new UpstreamRecord($"ce{i}", UpstreamKind.User, "saved", i % 2 == 0 ? "alice" : "bob", i % 2 == 0 ? "user é" : null, "n1", time.AddMilliseconds(i), Encoding.UTF8.GetBytes($"{{\"n\":{i}}}")))
            .ToArray();
        foreach (var record in sent)
        {
            Assert.True(await log.AppendAsync(record));
        }

        var read = new List<UpstreamRecord>();
        for (var partition = 0; partition < 2; partition++)
        {
            read.AddRange((await log.ReadNewAsync(partition, "c", 100)).Select(e => e.Record!));
        }

        foreach (var client in new[] { "alice", "bob" })
        {
            var expected = sent.Where(r => r.ClientId == client).ToArray();
            var actual = read.Where(r => r.ClientId == client).ToArray();
            Assert.Equal(expected.Select(r => (r.CeId, r.Kind, r.Event, r.UserId, r.ServerId, r.Time, Encoding.UTF8.GetString(r.Data))), actual.Select(r => (r.CeId, r.Kind, r.Event, r.UserId, r.ServerId, r.Time, Encoding.UTF8.GetString(r.Data))));
        }
    }

    [Fact]
    public async Task AFullPartitionRefusesAndKeepsWhatItHolds()
    {
        var log = Log(new UpstreamOptions { Partitions = 1, StreamMaxLength = 3 });

        var stored = new List<bool>();
        for (var i = 0; i < 5; i++)
        {
            stored.Add(await log.AppendAsync(Event("alice", i)));
        }

        Assert.Equal([true, true, true, false, false], stored);
        var held = await log.ReadNewAsync(0, "c", 10);
        Assert.Equal(["e0", "e1", "e2"], held.Select(e => e.Record!.CeId));
        // A delivered event frees its place: length is what is still to deliver.
        await log.AcknowledgeAsync(held[0]);
        Assert.Equal(2, await log.LengthAsync(0));
        Assert.True(await log.AppendAsync(Event("alice", 9)));
        Assert.False(await log.AppendAsync(Event("alice", 10)));
    }

    [Fact]
    public async Task PendingEntriesOfAnotherConsumerAreClaimedInOrderAndAcknowledgedOnesAreGone()
    {
        var log = Log(new UpstreamOptions { Partitions = 1 });
        for (var i = 0; i < 4; i++)
        {
            await log.AppendAsync(Event("alice", i));
        }

        var first = await log.ReadNewAsync(0, "dead-holder", 10);
        await log.AcknowledgeAsync(first[1]);

        var claimed = await log.ClaimPendingAsync(0, "new-holder", 10);
        Assert.Equal(["e0", "e2", "e3"], claimed.Select(e => e.Record!.CeId));
        Assert.Empty(await log.ReadNewAsync(0, "new-holder", 10));
        foreach (var entry in claimed)
        {
            await log.AcknowledgeAsync(entry);
        }

        Assert.Empty(await log.ClaimPendingAsync(0, "other", 10));
        Assert.Equal(0, await log.LengthAsync(0));
    }

    [Fact]
    public async Task ALeaseHasOneHolderUntilGivenBackOrRunOut()
    {
        var log = Log(new UpstreamOptions());
        var ttl = TimeSpan.FromSeconds(2);

        Assert.True(await log.HoldAsync(3, "a", ttl));
        Assert.False(await log.HoldAsync(3, "b", ttl));
        Assert.True(await log.HoldAsync(4, "b", ttl));
        Assert.True(await log.HoldAsync(null, "b", ttl));
        Assert.False(await log.HoldAsync(null, "a", ttl));
        Assert.True(await log.HoldAsync(3, "a", ttl));

        // Given back only by its holder.
        Assert.False(await log.HoldAsync(3, "b", TimeSpan.Zero));
        Assert.True(await log.HoldAsync(3, "a", TimeSpan.Zero));
        Assert.True(await log.HoldAsync(3, "b", ttl));

        // Run out: anyone may take it.
        await Task.Delay(ttl + TimeSpan.FromMilliseconds(500));
        Assert.True(await log.HoldAsync(3, "a", ttl));
    }

    [Fact]
    public async Task ADeadLetterIsListedWithWhyAndIsReplayedWithItsCeIdOutOfABoundedStream()
    {
        var log = Log(new UpstreamOptions { Partitions = 1, DeadLetterMaxLength = 2, StreamMaxLength = 1 });
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await log.AppendAsync(Event("alice", i)));
            var entry = Assert.Single(await log.ReadNewAsync(0, "c", 10));
            await log.DeadLetterAsync(entry, $"reason {i}", 8);
        }

        Assert.Equal(0, await log.LengthAsync(0));
        var dead = await log.ListDeadLettersAsync(null, 10);
        // The oldest past the bound is trimmed.
        Assert.Equal([("e1", "reason 1", 8), ("e2", "reason 2", 8)], dead.Select(d => (d.Record!.CeId, d.Reason, d.Attempts)));
        Assert.Equal(["e2"], (await log.ListDeadLettersAsync(dead[0].Id, 10)).Select(d => d.Record!.CeId));
        Assert.Equal(["e1"], (await log.ListDeadLettersAsync(null, 1)).Select(d => d.Record!.CeId));

        // The partition is full (its bound is 1) and the replay goes in anyway: an operator's replay is bounded by the dead letters.
        Assert.True(await log.AppendAsync(Event("alice", 5)));
        var replayed = await log.ReplayAsync(dead[0].Id);
        Assert.Equal("e1", replayed!.Record!.CeId);
        Assert.Null(await log.ReplayAsync(dead[0].Id));
        Assert.Equal(["e2"], (await log.ListDeadLettersAsync(null, 10)).Select(d => d.Record!.CeId));
        var back = await log.ReadNewAsync(0, "c", 10);
        Assert.Equal(["e5", "e1"], back.Select(e => e.Record!.CeId));
        Assert.Equal(Encoding.UTF8.GetString(Event("alice", 1).Data), Encoding.UTF8.GetString(back[1].Record!.Data));
        // Parked again, it is a fresh dead letter without the old reason fields doubled.
        await log.DeadLetterAsync(back[1], "again", 1);
        Assert.Equal(("again", 1), (await log.ListDeadLettersAsync(null, 10)).Select(d => (d.Reason, d.Attempts)).Last());
    }

    [Fact]
    public async Task AnUnreadableEntryIsReadAsNoRecord()
    {
        var log = Log(new UpstreamOptions { Partitions = 1 });
        await _client.GetDatabase().StreamAddAsync(RedisKeys.UpstreamEvents(0), "id", "not an id because of spaces");

        var entry = Assert.Single(await log.ReadNewAsync(0, "c", 10));

        Assert.Null(entry.Record);
    }

    private UpstreamEventLog Log(UpstreamOptions options) => new(_client, Microsoft.Extensions.Options.Options.Create(options));

    internal static UpstreamRecord Event(string clientId, int n) =>
        new($"e{n}", UpstreamKind.User, "saved", clientId, null, "n1", DateTimeOffset.UtcNow, Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"));
}

/// <summary>The same log on a real 3-master cluster: every step is in one slot (partitions spread over the masters).</summary>
public sealed class UpstreamEventLogOnClusterTests(RedisClusterFixture redis) : IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task AppendReadAcknowledgeLeaseDeadLetterAndReplayEachRunInOneSlot()
    {
        var log = new UpstreamEventLog(redis.Client, Microsoft.Extensions.Options.Options.Create(new UpstreamOptions { Partitions = 8 }));
        var clients = Enumerable.Range(0, 16).Select(i => $"c{i}").ToArray();
        foreach (var client in clients)
        {
            Assert.True(await log.AppendAsync(UpstreamEventLogTests.Event(client, 1)));
        }

        var read = new List<ReceivedUpstream>();
        for (var partition = 0; partition < 8; partition++)
        {
            Assert.True(await log.HoldAsync(partition, "t", TimeSpan.FromSeconds(5)));
            var fresh = await log.ReadNewAsync(partition, "c", 100);
            Assert.Equal(fresh.Select(e => e.EntryId), (await log.ClaimPendingAsync(partition, "other", 100)).Select(e => e.EntryId));
            read.AddRange(fresh);
        }

        Assert.Equal(clients.Order(StringComparer.Ordinal), read.Select(e => e.Record!.ClientId).Order(StringComparer.Ordinal));
        await log.AcknowledgeAsync(read[0]);
        await log.DeadLetterAsync(read[1], "test", 8);
        var dead = Assert.Single(await log.ListDeadLettersAsync(null, 10));
        Assert.NotNull(await log.ReplayAsync(dead.Id));
        var partitionOfReplayed = UpstreamEventLog.PartitionOf(read[1].Record!.ClientId, 8);
        Assert.Contains(await log.ReadNewAsync(partitionOfReplayed, "c", 100), e => e.Record!.CeId == read[1].Record!.CeId);
    }
}
