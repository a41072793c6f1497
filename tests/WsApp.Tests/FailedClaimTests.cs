using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// Issue 17 item 6: a connect whose claim succeeded but whose next step failed (the takeover kick, the group
/// preparation) must give the claim back, fenced by its epoch, close its pending-claims window and answer 503
/// (docs/protocol.md §1). Before the fix a failed kick left the id owned by a server with no socket and no TTL,
/// leaked the window, and dropped the connection with no HTTP answer.
/// </summary>
public sealed class FailedClaimTests
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task ATakeoverWhoseKickCannotBeSentReleasesTheClaimAndAnswers503()
    {
        await using var redis = await RedisServer.StartAsync();
        // A real fault, not a fake: node b's Redis user may run the claim script but not publish, so its kick fails.
        await using (var admin = await redis.ConnectAsync())
        {
            await admin.GetDatabase().ExecuteAsync("ACL", "SETUSER", "nokick", "on", ">nokick", "~*", "&*", "+@all", "-publish", "-spublish");
        }

        await using var a = await WsNode.StartOnRedisAsync(redis, $"a-{_run}");
        await using var b = await WsNode.StartOnRedisAsync($"{redis.ConnectionString},user=nokick,password=nokick", $"b-{_run}");
        await using var first = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bystander = await TestClient.ConnectAsync(b, "clientId=bystander");

        var status = await TestClient.ConnectStatusAsync(b, $"clientId=alice&resumeToken={first.ResumeToken}");

        Assert.Equal(503, status);
        Assert.Equal(1, b.Connections().Count);
        // The failed connect's window is closed: a doorbell for alice now is held for no one, so a connect that opens
        // alice's window after it gets nothing (a window left open would have held it, and would hand it over).
        var connections = b.Connections();
        connections.OnDeliver("alice", new LogEntry(1_000, "bystander", null, "1"u8.ToArray(), 0));
        var window = connections.OpenWindow("alice");
        Assert.Empty(connections.CloseWindow(window).Entries);
        var session = await b.Services.GetRequiredService<ISessionStore>().GetSessionAsync("alice", default);
        Assert.NotNull(session);
        Assert.NotEqual(b.ServerId, session.Server);
        await bystander.AssertAliveAsync();
    }
}
