using System.Text;
using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>
/// RFC 6455 §5.1: a client frame that is not masked fails the connection (a 1002 close, or TCP closed), whatever
/// the connection was doing. Regression for the hostile-input fuzzer's intermittent finding: a short unmasked frame
/// (under 6 bytes: no payload, or up to 3 bytes of it) left the node waiting for a mask key that never came, because
/// the framework's WebSocket reads 6 header bytes before it looks at the mask bit. The fuzzer hit it whenever its JSON
/// generator produced a tiny value such as <c>1</c> or <c>{}</c>.
/// </summary>
public sealed class UnmaskedFrameTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    public static TheoryData<string, int> Situations()
    {
        var data = new TheoryData<string, int>();
        foreach (var situation in new[] { "first", "after a valid frame", "mid-fragment", "ping pending", "while the server writes" })
        {
            foreach (var size in new[] { 0, 1, 3, 4, 20, 200 })
            {
                data.Add(situation, size);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Situations))]
    public async Task AnUnmaskedClientFrameFailsTheConnectionWithinABound(string situation, int payloadBytes)
    {
        await using var node = await WsNode.StartAsync(Settings.Of(
            // The heartbeat's ping would make the client send more bytes and so hide the bug; keep it out of the way.
            ("Ws:HeartbeatSeconds", 600),
            ("Ws:FramesPerSecond", 1_000_000),
            ("Ws:SendBytesPerSecond", 1_000_000_000)));
        await using var bystander = await TestClient.ConnectAsync(node);
        var payload = Encoding.UTF8.GetBytes(new string('1', payloadBytes));

        // Bounded: enough rounds to meet the scheduling-dependent interleavings, few enough for the short suite.
        for (var round = 0; round < ChaosSettings.Pick(3, 50); round++)
        {
            using var connection = await RawConnection.OpenAsync(node, "/ws");
            Assert.Equal(101, connection.Status);
            Assert.Equal(RawConnection.OpText, (await connection.ReadMessageAsync(TestClient.Timeout))?.Opcode);
            await PrepareAsync(connection, situation);

            await connection.SendFrameAsync(RawConnection.OpText, payload, masked: false);

            var outcome = await ReadUntilFailedAsync(connection);
            Assert.True(outcome is 1002 or -1, $"{situation}, {payloadBytes} payload bytes, round {round}: expected a 1002 close or TCP closed within {Bound.TotalSeconds} s, got {Describe(outcome)}");
        }

        // Other clients are unaffected.
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AFrameLengthWithItsTopBitSetFailsTheConnection()
    {
        // Found in review: the heartbeat's frame scanner read such a length as negative and spun forever on the
        // connection's read, a core per connection. RFC 6455 §5.2: the most significant bit must be 0.
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:HeartbeatSeconds", 600)));
        await using var bystander = await TestClient.ConnectAsync(node);
        using var connection = await RawConnection.OpenAsync(node, "/ws");
        Assert.Equal(RawConnection.OpText, (await connection.ReadMessageAsync(TestClient.Timeout))?.Opcode);

        await connection.SendRawAsync(new byte[] { 0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, (byte)'x' });

        var outcome = await ReadUntilFailedAsync(connection);
        Assert.True(outcome is 1002 or 1009 or -1, $"expected a 1002 or 1009 close or TCP closed within {Bound.TotalSeconds} s, got {Describe(outcome)}");
        await bystander.AssertAliveAsync();
    }

    private static async Task PrepareAsync(RawConnection connection, string situation)
    {
        switch (situation)
        {
            case "after a valid frame":
                await connection.SendFrameAsync(RawConnection.OpText, """{"type":"ping","id":1}"""u8.ToArray());
                Assert.Equal(RawConnection.OpText, (await connection.ReadMessageAsync(TestClient.Timeout))?.Opcode);
                break;
            case "mid-fragment":
                await connection.SendFrameAsync(RawConnection.OpText, """{"type":"pi"""u8.ToArray(), fin: false);
                break;
            case "ping pending":
                // Sent and not yet read back: the pong may be in flight when the violation arrives.
                await connection.SendFrameAsync(RawConnection.OpPing, "p"u8.ToArray());
                break;
            case "while the server writes":
                // A burst of replies the client does not read first, so the send pump is busy when the frame arrives.
                for (var i = 0; i < 50; i++)
                {
                    await connection.SendFrameAsync(RawConnection.OpText, Encoding.UTF8.GetBytes($$"""{"type":"ping","id":{{i}}}"""));
                }

                break;
        }
    }

    /// <summary>Reads past replies to the close: its code, -1 for TCP closed without one, -2 for nothing within the bound.</summary>
    private static async Task<int> ReadUntilFailedAsync(RawConnection connection)
    {
        var deadline = DateTime.UtcNow + Bound;
        for (var i = 0; i < 200; i++)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return -2;
            }

            var message = await connection.ReadMessageAsync(left);
            switch (message)
            {
                case null:
                    return -2;
                case { Opcode: RawConnection.OpClose } close:
                    return RawConnection.CloseCode(close.Payload);
                case { Opcode: RawConnection.Ended }:
                    return -1;
            }
        }

        return -3;
    }

    private static string Describe(int outcome) => outcome switch
    {
        -1 => "TCP closed",
        -2 => "nothing (the connection stayed open)",
        -3 => "an endless stream of replies",
        _ => $"close {outcome}",
    };
}
