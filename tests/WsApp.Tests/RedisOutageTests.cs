using System.Net.WebSockets;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Redis;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// docs/design.md invariant 4: Redis away means sockets stay open and sends answer `unavailable`; Redis back (even
/// empty, after a restart without persistence) means the nodes re-claim what they hold and sends work again.
/// Each test owns its redis-server, since it kills it.
/// </summary>
public sealed class RedisOutageTests
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task ARedisRestartDropsNoSocketAndAfterwardsSendsAndOwnershipComeBack()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await WsNode.StartOnRedisAsync(redis, $"a-{_run}", ("Redis:CommandTimeoutMilliseconds", 1000));
        await using var b = await WsNode.StartOnRedisAsync(redis, $"b-{_run}", ("Redis:CommandTimeoutMilliseconds", 1000));
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(b, "clientId=bob");
        await alice.SendAsync(Frames.Send("bob", "1"));
        Assert.Equal(1, (await bob.ReceiveAsync()).Seq());
        using var http = new HttpClient { BaseAddress = a.BaseUri };

        await redis.StopAsync();

        // Away: sockets stay open and answer what needs no Redis; a send fails fast with `unavailable`.
        await alice.AssertAliveAsync();
        await bob.AssertAliveAsync();
        await alice.SendAsync(Frames.Send("bob", "2", id: "during"));
        var error = await alice.ReceiveOfTypeAsync("error").WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(("unavailable", "during"), (error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
        await Eventually.TrueAsync(async () => (int)(await http.GetAsync("/readyz")).StatusCode == 503, because: "not ready without Redis");
        Assert.Equal(503, await TestClient.ConnectStatusAsync(a, "clientId=carol"));

        await redis.RestartAsync(TimeSpan.Zero);

        // Back, empty: each node re-asserts its claims; the lost log means seq restarts at 1.
        await Eventually.TrueAsync(
            async () =>
            {
                await alice.SendAsync(Frames.Send("bob", "3", id: "after"));
                var reply = await alice.ReceiveAsync();
                return reply.Type() == "ack" && reply.Status() == "delivered";
            },
            TimeSpan.FromSeconds(30),
            "sends work again");
        var message = await bob.ReceiveAsync();
        Assert.Equal((1L, 3), (message.Seq(), message.GetProperty("data").GetInt32()));
        using var check = await redis.ConnectAsync();
        Assert.Equal(a.ServerId, (string?)await check.GetDatabase().HashGetAsync(RedisKeys.Owner("alice"), "server"));
        Assert.Equal(b.ServerId, (string?)await check.GetDatabase().HashGetAsync(RedisKeys.Owner("bob"), "server"));
        Assert.Equal(WebSocketState.Open, alice.Socket.State);
        Assert.Equal(WebSocketState.Open, bob.Socket.State);
        await Eventually.TrueAsync(async () => (int)(await http.GetAsync("/readyz")).StatusCode == 200, because: "ready again");
        // A restored entry still knows the token: bob can resume elsewhere, and nobody can without it.
        Assert.Equal(401, await TestClient.ConnectStatusAsync(a, "clientId=bob"));
        await using var moved = await TestClient.ConnectAsync(a, $"clientId=bob&resumeToken={bob.ResumeToken}");
        Assert.Equal((WebSocketCloseStatus)4000, await bob.ReceiveCloseAsync());
    }

    [Fact]
    public async Task AGroupWhoseLogRedisLostClosesItsMembersWith1001AndTheirResumeSaysItWasNotRecovered()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await WsNode.StartOnRedisAsync(redis, $"a-{_run}", ("Redis:CommandTimeoutMilliseconds", 1000));
        await using var bob = await TestClient.ConnectAsync(a, "clientId=bob");
        var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await alice.SendAsync(Frames.Join("news", id: "j"));
        await alice.ReceiveOfTypeAsync("ack");
        for (var n = 1; n <= 3; n++)
        {
            await bob.SendAsync(Frames.SendToGroup("news", "0"));
            Assert.Equal(n, (await alice.ReceiveAsync()).Gseq());
        }

        // Back empty: news's counter is gone, so its next message would be gseq 1, below what alice has.
        await redis.RestartAsync(TimeSpan.Zero);

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await alice.ReceiveCloseAsync(TimeSpan.FromSeconds(30)));
        await alice.DisposeAsync();
        await bob.AssertAliveAsync();
        await using var back = await TestClient.ConnectAsync(a, $"clientId=alice&resumeToken={alice.ResumeToken}&since=news:3");
        var news = back.Welcome.GetProperty("groups").GetProperty("news");
        Assert.Equal((0L, false, false), (news.GetProperty("gseq").GetInt64(), news.GetProperty("recovered").GetBoolean(), back.Welcome.GetProperty("recovered").GetBoolean()));
        await bob.SendAsync(Frames.SendToGroup("news", "\"again\"", id: "g"));
        Assert.Equal("delivered", (await bob.ReceiveOfTypeAsync("ack")).Status());
        Assert.Equal(1L, (await back.ReceiveAsync()).Gseq());
    }

    [Fact]
    public async Task ASocketClosedWhileRedisWasAwayIsReleasedWhenItComesBack()
    {
        // This Redis keeps its data across the restart (append-only file), so the stale entry survives it.
        var dir = Directory.CreateTempSubdirectory("serverlessws-redis-");
        try
        {
            await using var redis = await RedisServer.StartAsync("--appendonly", "yes", "--appendfsync", "always", "--dir", dir.FullName);
            await using var a = await WsNode.StartOnRedisAsync(redis, $"a-{_run}", ("Redis:CommandTimeoutMilliseconds", 1000));
            var alice = await TestClient.ConnectAsync(a, "clientId=alice");
            await using var keeper = await TestClient.ConnectAsync(a, "clientId=keeper");

            await redis.StopAsync();
            await alice.DisposeAsync();
            await Eventually.TrueAsync(() => a.Connections().Count == 1);
            await redis.RestartAsync(TimeSpan.Zero);

            using var check = await redis.ConnectAsync();
            var db = check.GetDatabase();
            await Eventually.TrueAsync(
                async () => (string?)await db.HashGetAsync(RedisKeys.Owner("alice"), "server") == string.Empty,
                TimeSpan.FromSeconds(30),
                "alice's release, refused while Redis was away, is retried");
            Assert.NotNull(await db.KeyTimeToLiveAsync(RedisKeys.Owner("alice")));
            Assert.Equal(a.ServerId, (string?)await db.HashGetAsync(RedisKeys.Owner("keeper"), "server"));
            await keeper.AssertAliveAsync();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
