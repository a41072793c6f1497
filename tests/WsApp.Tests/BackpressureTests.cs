using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// One bounded send queue per connection: a client that stops reading stalls nobody else, does not grow the
/// server's memory without bound, and is closed; what it missed stays in its log for a resume.
/// </summary>
public sealed class BackpressureTests
{
    [Fact]
    public async Task AClientThatStopsReadingIsClosedAndTheSenderNeverWaitsOnIt()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:SendQueueLimit", 16), ("Ws:FramesPerSecond", 100_000), ("Ws:SendBytesPerSecond", 1_000_000_000)));
        var connections = node.Connections();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        await using var bystander = await TestClient.ConnectAsync(node, "clientId=bystander");
        // Connected, then never reads again: the socket's buffers fill, then its queue.
        using var stalled = await RawConnection.ConnectAsync(node, "clientId=stalled");
        var payload = $"\"{new string('x', 60_000)}\"";

        // ~18 MB: more than loopback socket buffers and a 16-frame queue can hold.
        for (var i = 0; i < 300; i++)
        {
            await sender.SendAsync(Frames.Send("stalled", payload, id: "s"));
            var status = (await sender.ReceiveOfTypeAsync("ack")).Status();
            Assert.True(status is "delivered" or "queued", status);
        }

        await Eventually.TrueAsync(() => connections.Count == 2, because: "the stalled client is closed");
        // The sender and others were never held up, and go on being served.
        await bystander.AssertAliveAsync();
        await sender.SendAsync(Frames.Send("stalled", "\"after\"", id: "after"));
        Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
    }

    [Fact]
    public async Task AfterABacklogCloseTheClientResumesAndGetsWhatTheLogStillHolds()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:SendQueueLimit", 4), ("Ws:LogMaxMessages", 1000), ("Ws:FramesPerSecond", 100_000), ("Ws:SendBytesPerSecond", 1_000_000_000)));
        var connections = node.Connections();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        using var stalled = await RawConnection.ConnectAsync(node, "clientId=stalled");
        var welcome = System.Text.Json.JsonDocument.Parse((await stalled.ReadFrameAsync(TestClient.Timeout))!.Value.Payload).RootElement;
        var token = welcome.GetProperty("resumeToken").GetString();
        var payload = $"\"{new string('y', 60_000)}\"";
        const int sent = 300;
        for (var i = 0; i < sent; i++)
        {
            await sender.SendAsync(Frames.Send("stalled", payload, id: "s"));
            await sender.ReceiveOfTypeAsync("ack");
        }

        await Eventually.TrueAsync(() => connections.Count == 1, because: "the stalled client is closed");

        await using var resumed = await TestClient.ConnectAsync(node, $"clientId=stalled&resumeToken={token}&lastSeq=0");

        Assert.Equal(sent, resumed.Welcome.GetProperty("replayed").GetInt32());
        Assert.True(resumed.Welcome.GetProperty("recovered").GetBoolean());
        for (var seq = 1; seq <= sent; seq++)
        {
            Assert.Equal(seq, (await resumed.ReceiveAsync()).Seq());
        }
    }

    [Fact]
    public async Task AClientFloodingWithoutReadingIsSlowedNotClosedAndOthersAreServed()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:SendQueueLimit", 8), ("Ws:FramesPerSecond", 100_000), ("Ws:SendBytesPerSecond", 1_000_000_000)));
        await using var bystander = await TestClient.ConnectAsync(node);
        using var flooder = await RawConnection.ConnectAsync(node, "clientId=flooder");

        // Pings whose pongs it never reads: its own replies fill its queue, then TCP pushes back on its writes.
        var ping = """{"type":"ping","id":"p"}"""u8.ToArray();
        using var writing = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var written = 0;
        try
        {
            while (!writing.IsCancellationRequested)
            {
                await flooder.SendFrameAsync(RawConnection.OpText, ping).WaitAsync(writing.Token);
                written++;
            }
        }
        catch (OperationCanceledException)
        {
            // The server stopped reading it: that is the backpressure.
        }

        await bystander.AssertAliveAsync();
        Assert.True(written > 8, $"only {written} frames were written");
        // Not closed: the first frames it reads now are its pongs, with no close among them.
        for (var i = 0; i < 8; i++)
        {
            var frame = await flooder.ReadFrameAsync(TestClient.Timeout);
            Assert.Equal(RawConnection.OpText, frame?.Opcode);
        }
    }
}
