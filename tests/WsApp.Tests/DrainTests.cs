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
        // Which socket the drain closes first is not defined: watch both.
        var closes = new[] { first, second }.Select(async client => (Status: await client.ReceiveCloseAsync(), At: clock.Elapsed)).ToArray();
        var earlier = await Task.WhenAny(closes);

        // While a socket is still open the server is up, but refuses new sockets and reports not ready.
        Assert.Equal(503, await TestClient.ConnectStatusAsync(node));
        Assert.Equal(503, (int)(await http.GetAsync("/readyz")).StatusCode);
        Assert.Equal(200, (int)(await http.GetAsync("/healthz")).StatusCode);

        var later = closes.Single(close => close != earlier);
        var (firstClose, _) = await earlier;
        var (secondClose, secondAt) = await later;
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, firstClose);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, secondClose);
        // Two sockets over 2 s: the second close is due 1 s into the drain. (The first may reach the client late
        // when this test process's thread pool is short of threads, so the gap between the two is not the measure.)
        Assert.InRange(secondAt, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(4));
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
