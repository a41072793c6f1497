using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ServerlessWs.App.Connections;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// Issue 17 items 4 and 11: a client that does not read costs the node a bounded time and a bounded outbox
/// (docs/protocol.md §5a "Heartbeat" and "Limits"). A frame that waits a whole heartbeat interval to be written drops
/// the client even if it sends pongs; the outbox is bounded in bytes as well as frames; and a client the heartbeat
/// drops is gone within two intervals + 1 s, not + 5 s.
/// </summary>
public sealed class NonReadingClientTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    // ~18 MB: more than loopback socket buffers hold, so the server's write to a client that never reads gets stuck.
    private const int Messages = 300;

    private static readonly string Payload = $"\"{new string('x', 60_000)}\"";

    [Fact]
    public async Task AClientThatNeverReadsButSendsPongsIsDroppedWhenAFrameWaitsAWholeInterval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // The outbox bounds are set out of the way: here the write deadline alone must drop the client.
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:SendQueueBytes", 1 << 30), ("Ws:SendBytesPerSecond", 1_000_000_000)), time);
        var connections = node.Connections();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        using var ponger = await RawConnection.ConnectAsync(node, "clientId=ponger");
        await FillAsync(sender, "ponger");

        // Tick 1: the write to the ponger is stuck. It answers the ping (unasked pongs are allowed too), never reading.
        time.Advance(Interval);
        await ponger.SendFrameAsync(RawConnection.OpPong, "unasked"u8.ToArray());
        // Frames are read in order: once the send that follows the pong reaches the sender, the pong was read.
        await ponger.SendFrameAsync(RawConnection.OpText, Encoding.UTF8.GetBytes(Frames.Send("sender", "\"after the pong\"")));
        await sender.ReceiveOfTypeAsync("message");
        // Tick 2: the same write is still stuck.
        time.Advance(Interval);

        await Eventually.TrueAsync(() => connections.Count == 1, TimeSpan.FromSeconds(5), "the non-reading ponger is dropped at the tick after its write stalled");
        await sender.AssertAliveAsync();
    }

    [Fact]
    public async Task AClientThatNeitherReadsNorAnswersIsGoneWithinTwoIntervalsPlusOneSecond()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(time: time);
        var connections = node.Connections();
        // Connected, then never reads again nor answers: the close frame reaches its buffer, and no close reply comes.
        using var silent = await RawConnection.ConnectAsync(node, "clientId=silent");

        time.Advance(Interval);
        time.Advance(Interval);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await Eventually.TrueAsync(() => connections.Count == 0, TimeSpan.FromSeconds(10), "the silent client is dropped");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"dropped {clock.Elapsed.TotalSeconds:0.0} s after the second tick; the contract allows 1 s");
    }

    [Fact]
    public async Task AnOutboxPastSendQueueBytesClosesTheClientLongBeforeSendQueueLimitFrames()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:SendQueueBytes", 256 * 1024), ("Ws:SendBytesPerSecond", 1_000_000_000)));
        var connections = node.Connections();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        await using var bystander = await TestClient.ConnectAsync(node, "clientId=bystander");
        using var stalled = await RawConnection.ConnectAsync(node, "clientId=stalled");

        // 300 frames: well under the default Ws:SendQueueLimit of 1024, far over 256 KiB once the socket is full.
        await FillAsync(sender, "stalled");

        await Eventually.TrueAsync(() => connections.Count == 2, because: "the stalled client is closed by the byte bound");
        await bystander.AssertAliveAsync();
        await sender.SendAsync(Frames.Send("stalled", "\"after\"", id: "after"));
        Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
    }

    [Fact]
    public async Task PastTheNodesOutboxBudgetTheLargestOutboxIsClosedAndTheOthersStay()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(
            ("Ws:NodeOutboxBytes", 1024 * 1024),
            ("Ws:SendQueueBytes", 1 << 30),
            ("Ws:SendQueueLimit", 100_000),
            ("Ws:SendBytesPerSecond", 1_000_000_000)));
        var connections = node.Connections();
        var outboxes = node.Services.GetRequiredService<OutboxMeter>();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        await using var bystander = await TestClient.ConnectAsync(node, "clientId=bystander");
        using var big = await RawConnection.ConnectAsync(node, "clientId=big");
        using var small = await RawConnection.ConnectAsync(node, "clientId=small");
        for (var i = 0; i < 3; i++)
        {
            await sender.SendAsync(Frames.Send("small", "\"a few\"", id: "s"));
            await sender.ReceiveOfTypeAsync("ack");
        }

        // Each outbox alone is far under its own bound; together with the socket full, big's passes the node's 1 MiB.
        await FillAsync(sender, "big");

        await Eventually.TrueAsync(() => connections.Count == 3, because: "the largest outbox (big's) is closed");
        await sender.SendAsync(Frames.Send("big", "1", id: "b"));
        Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
        await sender.SendAsync(Frames.Send("small", "1", id: "s"));
        Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());
        await bystander.AssertAliveAsync();
        await Eventually.TrueAsync(() => outboxes.Bytes < 1024 * 1024, because: "the closed outbox no longer counts against the node");
    }

    private static async Task FillAsync(TestClient sender, string recipient)
    {
        for (var i = 0; i < Messages; i++)
        {
            await sender.SendAsync(Frames.Send(recipient, Payload, id: "s"));
            var status = (await sender.ReceiveOfTypeAsync("ack")).Status();
            Assert.True(status is "delivered" or "queued", status);
        }

        // Give the send pump time to fill the socket's buffers and get stuck on the rest.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
    }
}
