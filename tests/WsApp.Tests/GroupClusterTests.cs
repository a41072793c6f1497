using System.Globalization;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.App.Tests;

/// <summary>
/// Group fan-out (docs/protocol.md §5b) across WsApp nodes on a real Redis: one append and one doorbell per node for
/// each group message, every member once and in gseq order, resume with since on another node.
/// </summary>
public abstract class GroupClusterTests(IRedisEndpoint redis)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task AMemberOnEachNodeGetsEveryGroupMessageOnceInOrder()
    {
        const int PerSender = 50;
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}");
        var group = $"room-{_run}";
        await using var onA = await JoinedAsync(a, $"ma-{_run}", group);
        await using var onB = await JoinedAsync(b, $"mb-{_run}", group);
        await using var senderA = await TestClient.ConnectAsync(a, $"clientId=sa-{_run}");
        await using var senderB = await TestClient.ConnectAsync(b, $"clientId=sb-{_run}");

        // Two senders on two nodes at once: their doorbells cross, and each node must still deliver by gseq.
        await Task.WhenAll(SendManyAsync(senderA, group, PerSender), SendManyAsync(senderB, group, PerSender));

        foreach (var member in new[] { onA, onB })
        {
            var from = new Dictionary<string, int>();
            for (var gseq = 1L; gseq <= 2 * PerSender; gseq++)
            {
                var message = await member.ReceiveAsync();
                Assert.Equal((group, gseq), (message.Group(), message.Gseq()));
                var sender = message.GetProperty("from").GetString()!;
                from[sender] = from.GetValueOrDefault(sender) + 1;
            }

            Assert.Equal([PerSender, PerSender], from.Values);
            await member.AssertAliveAsync();
        }
    }

    [Fact]
    public async Task AMemberThatMisses50AndResumesOnTheOtherNodeWithSinceGetsExactlyThoseThenLiveOnes()
    {
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}");
        var group = $"room-{_run}";
        await using var sender = await TestClient.ConnectAsync(b, $"clientId=s-{_run}");
        var member = await JoinedAsync(a, $"m-{_run}", group);
        await SendManyAsync(sender, group, 5);
        for (var gseq = 1L; gseq <= 5; gseq++)
        {
            Assert.Equal(gseq, (await member.ReceiveAsync()).Gseq());
        }

        await member.DisposeAsync();
        await SendManyAsync(sender, group, 50);

        await using var back = await TestClient.ConnectAsync(b, $"clientId=m-{_run}&resumeToken={member.ResumeToken}&since={group}:5");
        await sender.SendAsync(Frames.SendToGroup(group, "\"live\"", id: "live"));

        var position = back.Welcome.GetProperty("groups").GetProperty(group);
        Assert.Equal((5L, true, 50), (position.GetProperty("gseq").GetInt64(), position.GetProperty("recovered").GetBoolean(), back.Welcome.GetProperty("replayed").GetInt32()));
        for (var gseq = 6L; gseq <= 56; gseq++)
        {
            Assert.Equal(gseq, (await back.ReceiveAsync()).Gseq());
        }

        await back.AssertAliveAsync();
    }

    [Fact]
    public async Task AGroupMessageCostsTheSameRedisCommandsAndOneDoorbellPerNodeFor10Or1000Members()
    {
        const int Messages = 10;
        // Leases are renewed every third of their TTL: a long one keeps renewals out of the count.
        (string, object)[] settings = [("Ws:LeaseSeconds", 3600)];
        await using var a = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"a-{_run}", settings);
        await using var b = await WsNode.StartOnRedisAsync(redis.ConnectionString, $"b-{_run}", settings);
        await using var sender = await TestClient.ConnectAsync(a, $"clientId=s-{_run}");

        var perRun = new List<string>();
        foreach (var members in new[] { 10, 1000 })
        {
            var group = $"g{members}-{_run}";
            var clients = new List<TestClient>();
            try
            {
                for (var i = 0; i < members; i++)
                {
                    clients.Add(await JoinedAsync(i % 2 == 0 ? a : b, $"m{i}-{members}-{_run}", group));
                }

                Assert.Equal(2L, await SubscribersAsync(BellOf(group)));
                // One message first, so that the count holds no one-time cost (a script's first use on a server).
                await SendManyAsync(sender, group, 1);
                foreach (var client in clients)
                {
                    Assert.Equal(1L, (await client.ReceiveAsync()).Gseq());
                }

                var before = await CommandCallsAsync();
                await SendManyAsync(sender, group, Messages);
                foreach (var client in clients)
                {
                    for (var gseq = 2L; gseq <= Messages + 1; gseq++)
                    {
                        Assert.Equal(gseq, (await client.ReceiveAsync()).Gseq());
                    }
                }

                var after = await CommandCallsAsync();
                var publishes = Delta(before, after, "publish") + Delta(before, after, "spublish");
                Assert.Equal(Messages, publishes);
                perRun.Add(string.Join(' ', after.Keys.Order(StringComparer.Ordinal).Select(k => $"{k}={Delta(before, after, k)}").Where(d => !d.EndsWith("=0", StringComparison.Ordinal))));
            }
            finally
            {
                await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
            }
        }

        Assert.Equal(perRun[0], perRun[1]);
    }

    private static async Task<TestClient> JoinedAsync(WsNode node, string clientId, string group)
    {
        var client = await TestClient.ConnectAsync(node, $"clientId={clientId}");
        await client.SendAsync(Frames.Join(group, id: "j"));
        Assert.Equal("ok", (await client.ReceiveOfTypeAsync("ack")).Status());
        return client;
    }

    private static async Task SendManyAsync(TestClient sender, string group, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await sender.SendAsync(Frames.SendToGroup(group, i.ToString(CultureInfo.InvariantCulture), id: "g"));
            Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());
        }
    }

    private static string BellOf(string group) => $"ws:{{g:{group}}}:bell";

    /// <summary>Subscribers of a channel over every server, classic or sharded.</summary>
    private async Task<long> SubscribersAsync(string channel)
    {
        var total = 0L;
        foreach (var server in redis.Client.GetServers())
        {
            total += (long)((RedisResult[])(await server.ExecuteAsync("PUBSUB", "NUMSUB", channel))!)[1];
            total += (long)((RedisResult[])(await server.ExecuteAsync("PUBSUB", "SHARDNUMSUB", channel))!)[1];
        }

        return total;
    }

    /// <summary>Calls per command over every server (INFO commandstats), without the commands this test and the client's upkeep issue.</summary>
    private async Task<Dictionary<string, long>> CommandCallsAsync()
    {
        string[] upkeep = ["info", "ping", "echo", "cluster", "client", "pubsub", "config", "command"];
        var calls = new Dictionary<string, long>();
        foreach (var server in redis.Client.GetServers())
        {
            foreach (var line in ((string?)await server.ExecuteAsync("INFO", "commandstats") ?? string.Empty).Split('\n'))
            {
                // cmdstat_evalsha:calls=12,usec=...
                if (!line.StartsWith("cmdstat_", StringComparison.Ordinal))
                {
                    continue;
                }

                var name = line["cmdstat_".Length..line.IndexOf(':', StringComparison.Ordinal)];
                if (upkeep.Any(u => name.StartsWith(u, StringComparison.Ordinal)))
                {
                    continue;
                }

                var count = line[(line.IndexOf("calls=", StringComparison.Ordinal) + 6)..];
                count = count[..count.IndexOf(',', StringComparison.Ordinal)];
                calls[name] = calls.GetValueOrDefault(name) + long.Parse(count, CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    private static long Delta(Dictionary<string, long> before, Dictionary<string, long> after, string command) =>
        after.GetValueOrDefault(command) - before.GetValueOrDefault(command);
}

/// <summary>On one redis-server.</summary>
public sealed class GroupClusterTestsOnRedis(RedisFixture redis) : GroupClusterTests(redis), IClassFixture<RedisFixture>;

/// <summary>On a 3-master Redis Cluster: each group's keys and doorbell channel in its own slot, sharded pub/sub.</summary>
public sealed class GroupClusterTestsOnRedisCluster(RedisClusterFixture redis) : GroupClusterTests(redis), IClassFixture<RedisClusterFixture>;

/// <summary>Group fan-out with the nodes connected as Entra ID connects them (RESP3, pub/sub on the interactive connection).</summary>
public sealed class GroupClusterTestsOnResp3(Resp3Endpoint<RedisFixture> redis) : GroupClusterTests(redis), IClassFixture<Resp3Endpoint<RedisFixture>>;

/// <inheritdoc cref="GroupClusterTestsOnResp3"/>
public sealed class GroupClusterTestsOnResp3Cluster(Resp3Endpoint<RedisClusterFixture> redis) : GroupClusterTests(redis), IClassFixture<Resp3Endpoint<RedisClusterFixture>>;
