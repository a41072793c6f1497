using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// docs/protocol.md §5a "Heartbeat": a protocol ping every interval; a client whose ping got no pong by the next tick
/// is dropped (4408), between one and two intervals after its last pong. Only a protocol pong counts.
/// Most tests step a <see cref="FakeTimeProvider"/>; one runs on the real clock with a one-second interval.
/// </summary>
public sealed class HeartbeatTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AClientThatNeverAnswersIsPingedAtTheFirstTickAndDroppedWith4408AtTheSecond()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(time: time);
        using var silent = await RawConnection.ConnectAsync(node, "clientId=silent");
        Assert.Equal(RawConnection.OpText, (await silent.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);

        time.Advance(Interval - TimeSpan.FromSeconds(1));
        Assert.Null(await silent.ReadFrameAsync(TimeSpan.FromMilliseconds(200)));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RawConnection.OpPing, (await silent.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);

        time.Advance(Interval - TimeSpan.FromSeconds(1));
        Assert.Null(await silent.ReadFrameAsync(TimeSpan.FromMilliseconds(200)));
        time.Advance(TimeSpan.FromSeconds(1));
        var close = await silent.ReadFrameAsync(TestClient.Timeout);
        Assert.Equal(RawConnection.OpClose, close!.Value.Opcode);
        Assert.Equal(4408, (close.Value.Payload[0] << 8) | close.Value.Payload[1]);
    }

    [Fact]
    public async Task AClientThatAnswersEveryPingStaysConnectedTickAfterTick()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(time: time);
        // ClientWebSocket answers protocol pings by itself while it reads, as browsers do.
        await using var client = await TestClient.ConnectAsync(node, "clientId=alive");

        for (var tick = 1; tick <= 5; tick++)
        {
            // Each tick pings (and would close the client had the previous ping no pong). Two round trips: the first
            // answer comes after the ping on the wire, so the client has sent its pong by then; the second ping
            // goes after that pong, so its answer means the node has read it.
            time.Advance(Interval);
            await client.AssertAliveAsync();
            await client.AssertAliveAsync();
        }

        time.Advance(Interval);
        Assert.Equal(WebSocketState.Open, client.Socket.State);
        await client.AssertAliveAsync();
    }

    [Fact]
    public async Task ApplicationFramesAndPingsDoNotCountAsAnAnswer()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(time: time);
        using var chatty = await RawConnection.ConnectAsync(node, "clientId=chatty");
        await chatty.ReadFrameAsync(TestClient.Timeout);

        time.Advance(Interval);
        Assert.Equal(RawConnection.OpPing, (await chatty.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);
        await chatty.SendFrameAsync(RawConnection.OpText, """{"type":"ping","id":1}"""u8.ToArray());
        Assert.Equal(RawConnection.OpText, (await chatty.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);
        time.Advance(Interval);

        var close = await chatty.ReadFrameAsync(TestClient.Timeout);
        Assert.Equal(RawConnection.OpClose, close!.Value.Opcode);
    }

    [Fact]
    public async Task APongSentByHandCountsAsTheAnswer()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(time: time);
        using var manual = await RawConnection.ConnectAsync(node, "clientId=manual");
        await manual.ReadFrameAsync(TestClient.Timeout);

        for (var tick = 0; tick < 3; tick++)
        {
            time.Advance(Interval);
            // A ping, not a close: the pong to the previous tick's ping counted.
            Assert.Equal(RawConnection.OpPing, (await manual.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);
            // A pong split over two TCP writes, with a payload, still counts once it is whole.
            await manual.SendFrameAsync(RawConnection.OpPong, "beat"u8.ToArray());
            // Frames are read in order: the answer to a ping sent after the pong means the pong was read.
            await manual.SendFrameAsync(RawConnection.OpText, Encoding.UTF8.GetBytes($$"""{"type":"ping","id":{{tick}}}"""));
            Assert.Equal(RawConnection.OpText, (await manual.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);
        }

        time.Advance(Interval);
        Assert.Equal(RawConnection.OpPing, (await manual.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);
        await manual.SendFrameAsync(RawConnection.OpText, """{"type":"ping","id":"still"}"""u8.ToArray());
        Assert.Equal(RawConnection.OpText, (await manual.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);
    }

    [Fact]
    public async Task DroppedMeansReleasedASendNowAnswersQueued()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(time: time);
        var connections = node.Connections();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        using var silent = await RawConnection.ConnectAsync(node, "clientId=silent");
        // The raw connect returns once its head is sent: the first tick must find the socket registered, or it is
        // first pinged at the second tick and never dropped on the stepped clock.
        await Eventually.TrueAsync(() => connections.Count == 2, because: "the silent client is not registered");

        time.Advance(Interval);
        // The sender's pong is read before the next tick (see AClientThatAnswersEveryPingStaysConnectedTickAfterTick).
        await sender.AssertAliveAsync();
        await sender.AssertAliveAsync();
        time.Advance(Interval);

        // Polled on the server, not with frames: the frozen clock never refills the sender's frame budget.
        var store = node.Services.GetRequiredService<ISessionStore>();
        await Eventually.TrueAsync(async () => (await store.GetSessionAsync("silent", default))?.Server is null, TimeSpan.FromSeconds(15));
        await sender.SendAsync(Frames.Send("silent", "1", id: "p"));
        Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
        await sender.AssertAliveAsync();
    }

    [Fact]
    public async Task OnTheRealClockASilentClientIsDroppedBetweenOneAndTwoIntervalsPlusOneSecond()
    {
        const int seconds = 1;
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:HeartbeatSeconds", seconds)));
        using var silent = await RawConnection.ConnectAsync(node, "clientId=silent");
        var clock = Stopwatch.StartNew();

        var sawPing = false;
        while (await silent.ReadFrameAsync(TimeSpan.FromSeconds(10)) is { } frame && frame.Opcode != RawConnection.OpClose)
        {
            sawPing |= frame.Opcode == RawConnection.OpPing;
        }

        Assert.True(sawPing, "the server pings");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds((2 * seconds) + 1));
    }

    [Fact]
    public async Task TheWelcomeAnnouncesTheHeartbeatInterval()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:HeartbeatSeconds", 7)));
        await using var client = await TestClient.ConnectAsync(node);

        Assert.Equal(7, client.Welcome.GetProperty("heartbeatSeconds").GetInt32());
    }
}
