using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// A Redis that answers writes with an error reply it gives while it cannot serve them: MISCONF, after a snapshot
/// failed to persist (stop-writes-on-bgsave-error, the default). docs/design.md invariant 4 keeps the socket open and
/// answers <c>unavailable</c> when the store cannot take a send.
/// </summary>
public sealed class StoreErrorReplyTests
{
    [Fact]
    public async Task ASendWhileRedisRefusesWritesWithMisconfIsAnsweredAndTheSocketStaysOpen()
    {
        // Only StoreUnavailableException counts as an outage in a connection: a reply that means Redis cannot write
        // (MISCONF, after a failed snapshot) must be one, or the send would end the connection with 1011.
        var dir = Directory.CreateTempSubdirectory("serverlessws-misconf-");
        await using var redis = await RedisServer.StartAsync("--dir", dir.FullName);
        await using var a = await WsNode.StartOnRedisAsync(redis, $"a-{Guid.NewGuid():N}");
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await alice.SendAsync(Frames.Send("alice", "1", id: "before"));
        Assert.Equal("delivered", (await alice.ReceiveOfTypeAsync("ack")).Status());

        using var admin = await redis.ConnectAsync();
        var server = admin.GetServers().Single();
        await server.ExecuteAsync("CONFIG", "SET", "save", "3600 1");
        dir.Delete(recursive: true);
        await server.ExecuteAsync("BGSAVE");
        await Eventually.TrueAsync(
            async () => ((string?)await server.ExecuteAsync("INFO", "persistence"))!.Contains("rdb_last_bgsave_status:err", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));
        try
        {
            await alice.SendAsync(Frames.Send("alice", "2", id: "during"));
            var error = await alice.ReceiveOfTypeAsync("error");
            Assert.Equal(("unavailable", "during"), (error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
            await alice.AssertAliveAsync();
        }
        finally
        {
            // Writes allowed again, so the node can drop its lease when it stops (and the failure above is the one seen).
            await server.ExecuteAsync("CONFIG", "SET", "stop-writes-on-bgsave-error", "no");
        }
    }
}
