using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// Issue 17 item 5: every frame a client sends counts against <c>Ws:FramesPerSecond</c>, protocol pings and
/// continuation fragments too; past it frames are dropped with at most one <c>rate-limited</c> a second, reading is
/// held back, and a client that keeps on is closed with 1008; a message in more fragments than
/// <c>Ws:MaxFragmentsPerMessage</c> is closed with 1008 (docs/protocol.md §5a "Limits"). Before the fix, pings were
/// answered without limit, empty continuations never ended a message, and each dropped frame got its own error.
/// The clock is a <see cref="FakeTimeProvider"/> stepped a second at a time, so the budget refills only when told.
/// </summary>
public sealed class FrameFloodTests
{
    private const int Rate = 100;
    private const int FloodFrames = 50_000;

    [Fact]
    public async Task AFloodOfProtocolPingsIsChargedAndClosedWith1008AndABystanderIsServed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await StartAsync(time);
        await using var bystander = await TestClient.ConnectAsync(node, "clientId=bystander");
        using var flooder = await ConnectAsync(node);

        // Empty masked pings, 6 bytes each: the WebSocket answers each with a pong by itself.
        var outcome = await FloodAsync(flooder, time, Repeat(RawConnection.OpPing, fin: true, FloodFrames));

        Assert.Equal(1008, outcome.CloseCode);
        Assert.True(outcome.Pongs < FloodFrames / 10, $"{outcome.Pongs} of {FloodFrames} pings were answered");
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AMessageOfEndlessEmptyContinuationsIsClosedWith1008()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await StartAsync(time);
        await using var bystander = await TestClient.ConnectAsync(node, "clientId=bystander");
        using var flooder = await ConnectAsync(node);

        var start = RawConnection.MaskedFrame(RawConnection.OpText, fin: false, "{"u8);
        var outcome = await FloodAsync(flooder, time, [.. start, .. Repeat(RawConnection.OpContinuation, fin: false, FloodFrames)]);

        Assert.Equal(1008, outcome.CloseCode);
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AFloodOfMessagesIsServedAtItsRateHeldBackPastItAndClosedWith1008WhenItKeepsOn()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await StartAsync(time);
        await using var bystander = await TestClient.ConnectAsync(node, "clientId=bystander");
        using var flooder = await ConnectAsync(node);
        var flood = new List<byte>();
        for (var i = 0; i < 5_000; i++)
        {
            flood.AddRange(RawConnection.MaskedFrame(RawConnection.OpText, fin: true, Encoding.UTF8.GetBytes($$"""{"type":"ping","id":{{i}}}""")));
        }

        var outcome = await FloodAsync(flooder, time, [.. flood]);

        Assert.Equal(1008, outcome.CloseCode);
        // Served at its rate, held back past it: at most one rate-limited answer a second (the clock moved
        // outcome.Seconds seconds) where there used to be one a frame.
        Assert.InRange(outcome.TextPongs, 2 * Rate, (2 * Rate) + (Rate * outcome.Seconds));
        Assert.InRange(outcome.RateLimited, 0, outcome.Seconds + 1);
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AMessageInAFewFragmentsWithinTheRateIsServed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await StartAsync(time);
        using var client = await ConnectAsync(node);

        await client.SendFrameAsync(RawConnection.OpText, """{"type":"ping","""u8.ToArray(), fin: false);
        await client.SendFrameAsync(RawConnection.OpPing, ReadOnlyMemory<byte>.Empty);
        await client.SendFrameAsync(RawConnection.OpContinuation, """ "id":"f"}"""u8.ToArray(), fin: false);
        await client.SendFrameAsync(RawConnection.OpContinuation, ReadOnlyMemory<byte>.Empty);

        var message = await client.ReadMessageAsync(TestClient.Timeout);
        Assert.Equal(RawConnection.OpText, message?.Opcode);
        Assert.Equal("pong", JsonDocument.Parse(message!.Value.Payload).RootElement.GetProperty("type").GetString());
    }

    private static Task<WsNode> StartAsync(TimeProvider time) =>
        // No heartbeat within the test: the stepped clock moves a minute at most.
        WsNode.StartAsync(Settings.Of(("Ws:FramesPerSecond", Rate), ("Ws:HeartbeatSeconds", 3600)), time);

    private static async Task<RawConnection> ConnectAsync(WsNode node)
    {
        var connection = await RawConnection.ConnectAsync(node);
        Assert.Equal(RawConnection.OpText, (await connection.ReadFrameAsync(TestClient.Timeout))?.Opcode);
        return connection;
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> (as fast as the server takes them) while reading what comes back, and steps the
    /// clock a second at a time until the server closes the connection or a minute has passed.
    /// </summary>
    private static async Task<Outcome> FloodAsync(RawConnection flooder, FakeTimeProvider time, byte[] bytes)
    {
        var pongs = 0;
        var textPongs = 0;
        var rateLimited = 0;
        var reading = Task.Run(async () =>
        {
            while (await flooder.ReadMessageAsync(TimeSpan.FromSeconds(20), _ => pongs++) is { } message)
            {
                switch (message.Opcode)
                {
                    case RawConnection.OpClose:
                        return RawConnection.CloseCode(message.Payload);
                    case RawConnection.Ended:
                        return -1;
                }

                var frame = JsonDocument.Parse(message.Payload).RootElement;
                if (frame.GetProperty("type").GetString() == "pong")
                {
                    textPongs++;
                }
                else if (frame.TryGetProperty("code", out var code) && code.GetString() == "rate-limited")
                {
                    rateLimited++;
                }
            }

            return 0;
        });
        var writing = Task.Run(async () =>
        {
            for (var offset = 0; offset < bytes.Length; offset += 16 * 1024)
            {
                try
                {
                    if (!await flooder.SendRawAsync(bytes.AsMemory(offset, Math.Min(16 * 1024, bytes.Length - offset))))
                    {
                        return;
                    }
                }
                catch (OperationCanceledException)
                {
                    // The server holds its reads back: that is the backpressure.
                    return;
                }
            }
        });

        var seconds = 0;
        while (!reading.IsCompleted && seconds < 60)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100));
            time.Advance(TimeSpan.FromSeconds(1));
            seconds++;
        }

        var closeCode = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        await writing.WaitAsync(TimeSpan.FromSeconds(30));
        return new Outcome(closeCode, pongs, textPongs, rateLimited, seconds);
    }

    private static byte[] Repeat(byte opcode, bool fin, int count)
    {
        var one = RawConnection.MaskedFrame(opcode, fin, ReadOnlySpan<byte>.Empty);
        var all = new byte[one.Length * count];
        for (var i = 0; i < count; i++)
        {
            one.CopyTo(all, i * one.Length);
        }

        return all;
    }

    private sealed record Outcome(int CloseCode, int Pongs, int TextPongs, int RateLimited, int Seconds);
}
