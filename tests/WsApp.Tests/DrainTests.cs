using System.Diagnostics;
using System.Net.WebSockets;
using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>Graceful shutdown: 1001 closes spread over Ws:DrainSeconds, 503 for new connects, not ready.</summary>
public sealed class DrainTests
{
    [Fact]
    public async Task OnShutdownOpenSocketsGet1001SpreadOverTheDrainAndNewConnectsGet503()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:DrainSeconds", 2)));
        await using var first = await TestClient.ConnectAsync(node, "clientId=first");
        await using var second = await TestClient.ConnectAsync(node, "clientId=second");
        using var http = new HttpClient { BaseAddress = node.BaseUri };
        var clock = Stopwatch.StartNew();

        var stopping = node.StopAsync();
        var firstClose = await first.ReceiveCloseAsync();
        var firstAt = clock.Elapsed;

        // The other socket is still open: the server is up but refuses new sockets and reports not ready.
        Assert.Equal(WebSocketState.Open, second.Socket.State);
        Assert.Equal(503, await TestClient.ConnectStatusAsync(node));
        Assert.Equal(503, (int)(await http.GetAsync("/readyz")).StatusCode);
        Assert.Equal(200, (int)(await http.GetAsync("/healthz")).StatusCode);

        var secondClose = await second.ReceiveCloseAsync();
        var secondAt = clock.Elapsed;
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, firstClose);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, secondClose);
        Assert.InRange(secondAt - firstAt, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task WithNoDrainSpreadEverySocketGets1001AndShutdownCompletes()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:DrainSeconds", 0)));
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        var client = await TestClient.ConnectAsync(node, "clientId=alice");
        await sender.SendAsync(Frames.Send("alice", "1"));
        Assert.Equal(1, (await client.ReceiveAsync()).Seq());

        var stopping = node.StopAsync();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await client.ReceiveCloseAsync());
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await sender.ReceiveCloseAsync());
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        await client.DisposeAsync();
    }
}
