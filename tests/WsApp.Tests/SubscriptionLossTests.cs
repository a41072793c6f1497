using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.App.Tests;

/// <summary>
/// A node that loses only its pub/sub connection (the interactive one stays up) misses the doorbells published
/// meanwhile. When the subscription is back, every local socket reads its log and gets what it missed at once, not
/// at the next doorbell (there may never be one).
/// </summary>
public sealed class SubscriptionLossTests
{
    private const string NodeUser = "node-a";
    private const string NodePassword = "node-a-password";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ADirectMessageWhoseDoorbellWasMissedIsDeliveredWhenTheSubscriptionComesBack(bool resp3)
    {
        // With RESP3 and a shared subscription connection (how Entra ID connects) the doorbells come over the
        // interactive connection: losing it is losing the subscription, and only an Interactive restore follows.
        var protocol = resp3 ? ",protocol=resp3,sharedSubscriptionConnection=true" : string.Empty;
        await using var redis = await StartWithUsersAsync();

        using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},user=others,password=others-password,allowAdmin=true");
        var server = admin.GetServers().Single();
        var run = Guid.NewGuid().ToString("N")[..6];
        await using var a = await WsNode.StartOnRedisAsync($"{redis.ConnectionString},user={NodeUser},password={NodePassword}{protocol}", $"a-{run}");
        await using var b = await WsNode.StartOnRedisAsync($"{redis.ConnectionString},user=others,password=others-password", $"b-{run}");
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(b, "clientId=bob");
        await bob.SendAsync(Frames.Send("alice", "1"));
        Assert.Equal(1, (await alice.ReceiveAsync()).Seq());

        // Node a's subscription connection is cut and cannot come back (its password no longer works) ...
        await server.ExecuteAsync("ACL", "SETUSER", NodeUser, "resetpass", ">another-password");
        var subscriber = ((string)(await server.ExecuteAsync("CLIENT", "LIST"))!)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Single(line => line.Contains($" user={NodeUser} ", StringComparison.Ordinal) && (resp3 || line.Contains(" flags=P ", StringComparison.Ordinal)));
        // (Under RESP3 the reply is a verbatim string: its first line starts "txt:id=".)
        var id = System.Text.RegularExpressions.Regex.Match(subscriber, @"(?<![\w-])id=(\d+)").Groups[1].Value;
        await server.ExecuteAsync("CLIENT", "KILL", "ID", id);

        // ... while bob sends: stored in alice's log, its doorbell heard by nobody.
        await bob.SendAsync(Frames.Send("alice", "2", id: "missed"));
        var ack = await bob.ReceiveOfTypeAsync("ack");
        Assert.Equal("delivered", ack.Status());
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        await alice.SendAsync("""{"type":"ping","id":"p"}""");
        var next = await alice.ReceiveAsync();
        Assert.True(next.Type() == "pong", next.ToString());

        // The subscription reconnects; nobody sends again.
        await server.ExecuteAsync("ACL", "SETUSER", NodeUser, ">" + NodePassword);
        var message = await alice.ReceiveAsync();
        Assert.Equal((2L, 2), (message.Seq(), message.GetProperty("data").GetInt32()));
    }

    [Fact]
    public async Task AReconnectOfTheInteractiveConnectionAloneReadsNoSocketsLog()
    {
        // A cost: with RESP2 the doorbells come over the subscription connection, so when only the interactive one
        // drops nothing was missed, and no socket's log is read on top of its re-assert (one script each).
        const int Sockets = 40;
        await using var redis = await StartWithUsersAsync();
        using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},user=others,password=others-password,allowAdmin=true");
        var server = admin.GetServers().Single();
        var run = Guid.NewGuid().ToString("N")[..6];
        await using var a = await WsNode.StartOnRedisAsync($"{redis.ConnectionString},user={NodeUser},password={NodePassword}", $"a-{run}");
        var clients = new List<TestClient>();
        try
        {
            for (var i = 0; i < Sockets; i++)
            {
                clients.Add(await TestClient.ConnectAsync(a, $"clientId=c{i}-{run}"));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var before = await ScriptCallsAsync(server);
            var interactive = ((string)(await server.ExecuteAsync("CLIENT", "LIST"))!)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(line => line.Contains($" user={NodeUser} ", StringComparison.Ordinal) && !line.Contains(" flags=P ", StringComparison.Ordinal))
                .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"(?<![\w-])id=(\d+)").Groups[1].Value)
                .ToArray();
            Assert.NotEmpty(interactive);
            foreach (var id in interactive)
            {
                await server.ExecuteAsync("CLIENT", "KILL", "ID", id);
            }

            // Every socket's claim is re-asserted (one script each) once the connection is back.
            await Eventually.TrueAsync(async () => await ScriptCallsAsync(server) - before >= Sockets, TimeSpan.FromSeconds(20));
            await Task.Delay(TimeSpan.FromSeconds(1));
            var scripts = await ScriptCallsAsync(server) - before;

            Assert.True(scripts <= Sockets + 5, $"{scripts} scripts ran for {Sockets} sockets after an interactive-only reconnect");
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    /// <summary>A redis-server where every connection names its user (no default user), so node a's can be locked out alone.</summary>
    private static async Task<RedisServer> StartWithUsersAsync()
    {
        var redis = await RedisServer.StartAsync();
        using var setup = await redis.ConnectAsync();
        var root = setup.GetServers().Single();
        await root.ExecuteAsync("ACL", "SETUSER", NodeUser, "on", ">" + NodePassword, "~*", "&*", "+@all");
        await root.ExecuteAsync("ACL", "SETUSER", "others", "on", ">others-password", "~*", "&*", "+@all");
        await root.ExecuteAsync("ACL", "SETUSER", "default", "off");
        return redis;
    }

    /// <summary>EVAL and EVALSHA calls the server has run so far (INFO commandstats).</summary>
    private static async Task<long> ScriptCallsAsync(IServer server) =>
        (await server.InfoAsync("commandstats")).SelectMany(g => g)
            .Where(p => p.Key is "cmdstat_evalsha" or "cmdstat_eval")
            .Sum(p => long.Parse(p.Value.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture));
}
