using System.Text;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.Core.Tests.Sessions;

/// <summary>The Redis store on a real Redis: the shared contract, plus what only Redis can show.</summary>
public abstract class RedisSessionStoreTests(IRedisEndpoint redis) : SessionStoreContract
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _prefix = Guid.NewGuid().ToString("N")[..8] + ".";

    protected override ISessionStore CreateStore(WsOptions options) =>
        new RedisSessionStore(redis.Client, Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System);

    protected override string Id(string name) => _prefix + name;

    [Fact]
    public async Task KeysUseTheDesignsSchemaWithOneHashTagPerClient()
    {
        var claim = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.AppendAsync(Id("a"), new OutboundMessage("x", "1"u8.ToArray()), None);
        await Store.JoinAsync(Id("a"), "g", None);

        var db = redis.Client.GetDatabase();
        var owner = await db.HashGetAllAsync($"ws:{{c:{Id("a")}}}:owner");
        Assert.Equal("s1", owner.Single(e => e.Name == "server").Value);
        Assert.Equal(claim.Epoch, (long)owner.Single(e => e.Name == "epoch").Value);
        Assert.Equal(1, (long)owner.Single(e => e.Name == "seq").Value);
        Assert.Equal(32, ((byte[])owner.Single(e => e.Name == "tokenHash").Value!).Length);
        Assert.Equal(1, await db.StreamLengthAsync($"ws:{{c:{Id("a")}}}:log"));
        Assert.True(await db.SetContainsAsync($"ws:{{c:{Id("a")}}}:groups", "g"));
        Assert.Equal(double.PositiveInfinity, await db.SortedSetScoreAsync("ws:{g:g}:joined", Id("a")));
    }

    [Fact]
    public async Task ScriptsRunAgainAfterTheServersForgotThem()
    {
        // What a restart or a new cluster node does: NOSCRIPT for a script the client had loaded there.
        await Store.ClaimAsync(Id("f"), null, 0, "s1", None);
        foreach (var server in redis.Client.GetServers().Where(s => !s.IsReplica))
        {
            await server.ScriptFlushAsync();
        }

        var appended = await Store.AppendAsync(Id("f"), new OutboundMessage("x", "1"u8.ToArray()), None);
        var read = await Store.ReadLogAsync(Id("f"), 0, None);

        Assert.Equal(RecipientState.Connected, appended.State);
        Assert.Equal([1L], read.Entries.Select(e => e.Seq));
    }

    [Fact]
    public async Task TheTokenIsStoredOnlyAsItsHash()
    {
        var claim = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);

        var db = redis.Client.GetDatabase();
        foreach (var entry in await db.HashGetAllAsync(RedisKeys.Owner(Id("a"))))
        {
            Assert.DoesNotContain(claim.ResumeToken, Encoding.Latin1.GetString((byte[])entry.Value!), StringComparison.Ordinal);
        }

        Assert.Equal(ResumeTokens.Hash(claim.ResumeToken), (byte[])(await db.HashGetAsync(RedisKeys.Owner(Id("a")), "tokenHash"))!);
    }

    [Fact]
    public async Task AReleaseSetsTheSessionTtlOnEveryKeyOfTheClientAndAResumeClearsIt()
    {
        var store = CreateStore(new WsOptions { SessionTtlSeconds = 120 });
        var claim = await store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await store.AppendAsync(Id("a"), new OutboundMessage("x", "1"u8.ToArray()), None);
        await store.JoinAsync(Id("a"), "g", None);

        await store.ReleaseAsync(Id("a"), claim.Epoch, None);

        var db = redis.Client.GetDatabase();
        foreach (var key in new[] { RedisKeys.Owner(Id("a")), RedisKeys.Log(Id("a")), RedisKeys.ClientGroups(Id("a")) })
        {
            Assert.InRange((await db.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(120));
        }

        await store.ClaimAsync(Id("a"), claim.ResumeToken, 0, "s2", None);
        Assert.Null(await db.KeyTimeToLiveAsync(RedisKeys.Owner(Id("a"))));
        Assert.Null(await db.KeyTimeToLiveAsync(RedisKeys.Log(Id("a"))));
    }

    [Fact]
    public async Task AfterTheTtlTheSessionIsGoneAndAGroupSendNoLongerCountsIt()
    {
        var store = CreateStore(new WsOptions { SessionTtlSeconds = 1 });
        var claim = await store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await store.JoinAsync(Id("a"), "g2", None);
        await store.AppendAsync(Id("a"), new OutboundMessage("x", "1"u8.ToArray()), None);
        await store.ReleaseAsync(Id("a"), claim.Epoch, None);

        await Task.Delay(TimeSpan.FromSeconds(1.2));

        Assert.Null(await store.GetSessionAsync(Id("a"), None));
        var fresh = await store.ClaimAsync(Id("a"), claim.ResumeToken, 0, "s1", None);
        Assert.Equal(ClaimStatus.Created, fresh.Status);
        Assert.Equal((0, 0L), (fresh.Log.Entries.Count, fresh.LastSeq));
        // The group's index may still name the id, but its new session is not in that group.
        var again = await store.ClaimAsync(Id("a"), fresh.ResumeToken, 0, "s1", None);
        Assert.Empty(again.Groups);
    }

    [Fact]
    public async Task AMembershipLapsesWithItsSessionSoSendsNeitherCountNorKeepTheLapsedId()
    {
        var store = CreateStore(new WsOptions { SessionTtlSeconds = 1 });
        var (g, members) = (Id("g"), RedisKeys.GroupMembers(Id("g")));
        var a = await store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await store.ClaimAsync(Id("b"), null, 0, "s1", None);
        await store.JoinAsync(Id("a"), g, None);
        await store.JoinAsync(Id("b"), g, None);
        await store.ReleaseAsync(Id("a"), a.Epoch, None);

        // Released, not yet expired: still a member (a resume would find it in the group).
        Assert.Equal(1, (await store.AppendToGroupAsync(g, new OutboundMessage(Id("b"), "1"u8.ToArray()), None)).Recipients);
        await Task.Delay(TimeSpan.FromSeconds(1.2));

        Assert.Null((await store.AppendToGroupAsync(g, new OutboundMessage(Id("b"), "2"u8.ToArray()), None)).Entry);
        var db = redis.Client.GetDatabase();
        Assert.Equal([Id("b")], (await db.SortedSetRangeByRankAsync(members)).Select(m => (string)m!));
    }

    [Fact]
    public async Task AResumedSessionsMembershipsAreLiveAgain()
    {
        var store = CreateStore(new WsOptions { SessionTtlSeconds = 2 });
        var g = Id("g");
        var a = await store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await store.JoinAsync(Id("a"), g, None);
        await store.ReleaseAsync(Id("a"), a.Epoch, None);
        await store.ClaimAsync(Id("a"), a.ResumeToken, 0, "s2", None);

        await Task.Delay(TimeSpan.FromSeconds(2.3));

        Assert.Equal(1, (await store.AppendToGroupAsync(g, new OutboundMessage("x", "1"u8.ToArray()), None)).Recipients);
    }

    [Fact]
    public async Task ClaimsTakeoversAndReleasesAreRecordedAsEvents()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        var second = await Store.ClaimAsync(Id("a"), first.ResumeToken, 0, "s2", None);
        await Store.ReleaseAsync(Id("a"), second.Epoch, None);

        var db = redis.Client.GetDatabase();
        await db.PingAsync();
        var events = (await db.StreamRangeAsync(RedisKeys.Events))
            .Where(e => e["clientId"] == Id("a"))
            .Select(e => ((string?)e["type"], (string?)e["server"], (long)e["epoch"]))
            .ToArray();

        Assert.Equal(
            [("claimed", "s1", first.Epoch), ("takeover", "s2", second.Epoch), ("released", "s2", second.Epoch)],
            events);
    }

    [Fact]
    public async Task AfterDataLossReassertRestoresTheClaimAndANewerClaimBeatsIt()
    {
        var claim = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        var db = redis.Client.GetDatabase();
        await db.KeyDeleteAsync(RedisKeys.Owner(Id("a")));

        Assert.Equal(ReassertOutcome.Restored, await Store.ReassertAsync(Id("a"), "s1", claim.Epoch, claim.TokenHash, None));
        Assert.Equal(ReassertOutcome.Kept, await Store.ReassertAsync(Id("a"), "s1", claim.Epoch, claim.TokenHash, None));
        // The restored entry still knows the token.
        var resumed = await Store.ClaimAsync(Id("a"), claim.ResumeToken, 0, "s2", None);
        Assert.Equal(ClaimStatus.Resumed, resumed.Status);
        Assert.Equal(ReassertOutcome.Lost, await Store.ReassertAsync(Id("a"), "s1", claim.Epoch, claim.TokenHash, None));
    }

    [Fact]
    public async Task EpochsComeFromRedisClockSoAClaimAfterDataLossBeatsEveryEarlierOne()
    {
        var before = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await redis.Client.GetDatabase().KeyDeleteAsync(RedisKeys.Owner(Id("a")));

        var after = await Store.ClaimAsync(Id("a"), null, 0, "s2", None);

        Assert.True(after.Epoch > before.Epoch);
        Assert.Equal(ReassertOutcome.Lost, await Store.ReassertAsync(Id("a"), "s1", before.Epoch, before.TokenHash, None));
    }

    [Fact]
    public async Task ScriptsRunBySha()
    {
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);

        var shaCalls = 0;
        foreach (var server in redis.Client.GetServers())
        {
            var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g);
            shaCalls += stats.Count(p => p.Key == "cmdstat_evalsha");
        }

        Assert.True(shaCalls > 0);
    }
}

/// <summary>On one redis-server.</summary>
public sealed class RedisSessionStoreOnRedisTests(RedisFixture redis) : RedisSessionStoreTests(redis), IClassFixture<RedisFixture>;

/// <summary>On a 3-master Redis Cluster (every script touches one slot).</summary>
public sealed class RedisSessionStoreOnRedisClusterTests(RedisClusterFixture redis) : RedisSessionStoreTests(redis), IClassFixture<RedisClusterFixture>;
