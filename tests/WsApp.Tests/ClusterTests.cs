using System.Net.WebSockets;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Redis;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.App.Tests;

/// <summary>Several WsApp nodes on one real redis-server behave as one service (docs/protocol.md §4, §5).</summary>
public abstract class ClusterTests(IRedisEndpoint redis)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task ASendReachesARecipientOnAnotherNode()
    {
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}");
        await using var alice = await TestClient.ConnectAsync(a, $"clientId=alice-{_run}");
        await using var bob = await TestClient.ConnectAsync(b, $"clientId=bob-{_run}");

        await alice.SendAsync(Frames.Send($"bob-{_run}", """{"hi":1}""", id: "1"));

        Assert.Equal("delivered", (await alice.ReceiveOfTypeAsync("ack")).Status());
        var message = await bob.ReceiveAsync();
        Assert.Equal((1L, $"alice-{_run}", """{"hi":1}"""), (message.Seq(), message.GetProperty("from").GetString(), message.GetProperty("data").GetRawText()));
    }

    [Fact]
    public async Task AGroupSendReachesMembersOnEveryNode()
    {
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}");
        var group = $"room-{_run}";
        await using var alice = await TestClient.ConnectAsync(a, $"clientId=alice-{_run}");
        await using var bob = await TestClient.ConnectAsync(b, $"clientId=bob-{_run}");
        await using var carol = await TestClient.ConnectAsync(a, $"clientId=carol-{_run}");
        foreach (var member in new[] { alice, bob, carol })
        {
            await member.SendAsync(Frames.Join(group, id: "j"));
            await member.ReceiveOfTypeAsync("ack");
        }

        await bob.SendAsync(Frames.SendToGroup(group, "\"to all\"", id: "g"));

        Assert.Equal("delivered", (await bob.ReceiveOfTypeAsync("ack")).Status());
        foreach (var member in new[] { alice, carol })
        {
            var message = await member.ReceiveAsync();
            Assert.Equal((group, $"bob-{_run}"), (message.GetProperty("group").GetString(), message.GetProperty("from").GetString()));
        }

        await bob.AssertAliveAsync();
    }

    [Fact]
    public async Task AResumeOnAnotherNodeReplaysWhatWasMissedInOrder()
    {
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}");
        await using var sender = await TestClient.ConnectAsync(a, $"clientId=sender-{_run}");
        var alice = await TestClient.ConnectAsync(a, $"clientId=alice-{_run}");
        await sender.SendAsync(Frames.Send($"alice-{_run}", "1"));
        Assert.Equal(1, (await alice.ReceiveAsync()).Seq());
        await alice.DisposeAsync();
        // The close handshake ends before node a releases the claim; sends are "queued" once it has.
        await Eventually.TrueAsync(
            async () => !(await redis.Client.GetDatabase().HashGetAsync(RedisKeys.Owner($"alice-{_run}"), "server")).HasValue,
            because: "node a releases alice's claim after her close");
        for (var n = 2; n <= 4; n++)
        {
            await sender.SendAsync(Frames.Send($"alice-{_run}", n.ToString(System.Globalization.CultureInfo.InvariantCulture), id: "q"));
            Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
        }

        await using var back = await TestClient.ConnectAsync(b, $"clientId=alice-{_run}&resumeToken={alice.ResumeToken}&lastSeq=1");
        await sender.SendAsync(Frames.Send($"alice-{_run}", "5", id: "live"));

        Assert.Equal((true, 3, true), (back.Welcome.GetProperty("resumed").GetBoolean(), back.Welcome.GetProperty("replayed").GetInt32(), back.Welcome.GetProperty("recovered").GetBoolean()));
        Assert.Equal(b.ServerId, back.Welcome.GetProperty("serverId").GetString());
        for (var seq = 2; seq <= 5; seq++)
        {
            var message = await back.ReceiveAsync();
            Assert.Equal((seq, seq), (message.Seq(), message.GetProperty("data").GetInt32()));
        }

        Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());
    }

    [Fact]
    public async Task ATakeoverOnAnotherNodeClosesTheOldSocketWith4000AndRedisNamesTheNewNode()
    {
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}");
        await using var old = await TestClient.ConnectAsync(a, $"clientId=alice-{_run}");

        await using var taken = await TestClient.ConnectAsync(b, $"clientId=alice-{_run}&resumeToken={old.ResumeToken}");

        Assert.Equal((WebSocketCloseStatus)4000, await old.ReceiveCloseAsync());
        var owner = await redis.Client.GetDatabase().HashGetAsync(RedisKeys.Owner($"alice-{_run}"), "server");
        Assert.Equal(b.ServerId, (string?)owner);
        Assert.Equal(401, await TestClient.ConnectStatusAsync(a, $"clientId=alice-{_run}"));
    }

    [Fact]
    public async Task AKnownIdConnectedOnOneNodeIsRefusedWith401OnAnotherWithoutItsToken()
    {
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}");
        await using var owner = await TestClient.ConnectAsync(a, $"clientId=alice-{_run}");

        Assert.Equal(401, await TestClient.ConnectStatusAsync(b, $"clientId=alice-{_run}&resumeToken=guess"));
        await owner.AssertAliveAsync();
    }

    [Fact]
    public async Task EachNodeKeepsALeaseAndDropsItOnAGracefulStop()
    {
        var db = redis.Client.GetDatabase();
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}", ("Ws:LeaseSeconds", 15));

        await Eventually.TrueAsync(async () => await db.KeyExistsAsync(RedisKeys.Lease(a.ServerId)));
        Assert.InRange((await db.KeyTimeToLiveAsync(RedisKeys.Lease(a.ServerId)))!.Value, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15));
        Assert.NotNull(await db.SortedSetScoreAsync(RedisKeys.Servers, a.ServerId));

        await a.StopAsync();

        Assert.False(await db.KeyExistsAsync(RedisKeys.Lease(a.ServerId)));
        Assert.Null(await db.SortedSetScoreAsync(RedisKeys.Servers, a.ServerId));
    }
}

/// <summary>On one redis-server.</summary>
public sealed class ClusterTestsOnRedis(RedisFixture redis) : ClusterTests(redis), IClassFixture<RedisFixture>;

/// <summary>On a 3-master Redis Cluster: hash tags keep every script in one slot; inboxes use sharded pub/sub.</summary>
public sealed class ClusterTestsOnRedisCluster(RedisClusterFixture redis) : ClusterTests(redis), IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task InboxesAreShardedChannelsServedByOneShard()
    {
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"sharded-{Guid.NewGuid():N}");
        var channel = $"ws:{{s:{a.ServerId}}}:inbox";

        var sharded = 0L;
        var classic = 0L;
        foreach (var server in redis.Client.GetServers())
        {
            sharded += (long)((RedisResult[])(await server.ExecuteAsync("PUBSUB", "SHARDNUMSUB", channel))!)[1];
            classic += (long)((RedisResult[])(await server.ExecuteAsync("PUBSUB", "NUMSUB", channel))!)[1];
        }

        Assert.Equal((1L, 0L), (sharded, classic));
    }
}

/// <summary>Cross-node delivery and takeover with the nodes connected as Entra ID connects them (RESP3, shared subscription connection).</summary>
public sealed class ClusterTestsOnResp3(Resp3Endpoint<RedisFixture> redis) : ClusterTests(redis), IClassFixture<Resp3Endpoint<RedisFixture>>;

/// <inheritdoc cref="ClusterTestsOnResp3"/>
public sealed class ClusterTestsOnResp3Cluster(Resp3Endpoint<RedisClusterFixture> redis) : ClusterTests(redis), IClassFixture<Resp3Endpoint<RedisClusterFixture>>;
