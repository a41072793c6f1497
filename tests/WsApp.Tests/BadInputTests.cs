using System.Net.WebSockets;
using System.Text;
using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>docs/protocol.md §2, §3 and §5a: every bad input gets its documented answer and the node keeps serving.</summary>
public sealed class BadInputTests
{
    [Theory]
    [InlineData("{not json", "bad-json")]
    [InlineData("""{"type":"ping"} trailing""", "bad-json")]
    [InlineData("", "bad-json")]
    [InlineData("[1,2]", "bad-frame")]
    [InlineData("\"ping\"", "bad-frame")]
    [InlineData("""{"to":"bob","data":1}""", "bad-frame")]
    [InlineData("""{"type":7}""", "bad-frame")]
    [InlineData("""{"type":"shout"}""", "unknown-type")]
    [InlineData("""{"type":"send","data":1}""", "bad-frame")]
    [InlineData("""{"type":"send","to":"bob","group":"g","data":1}""", "bad-frame")]
    [InlineData("""{"type":"send","to":"bob"}""", "bad-frame")]
    [InlineData("""{"type":"send","to":null,"data":1}""", "bad-frame")]
    [InlineData("""{"type":"send","to":"b b","data":1}""", "bad-frame")]
    [InlineData("""{"type":"send","to":42,"data":1}""", "bad-frame")]
    [InlineData("""{"type":"send","group":"","data":1}""", "bad-frame")]
    [InlineData("""{"type":"join"}""", "bad-frame")]
    [InlineData("""{"type":"leave","group":null}""", "bad-frame")]
    [InlineData("""{"type":"ping","id":null}""", "bad-frame")]
    [InlineData("""{"type":"ping","id":{"a":1}}""", "bad-frame")]
    [InlineData("""{"type":"ping","id":true}""", "bad-frame")]
    public async Task ABadFrameGetsItsErrorCodeAndTheConnectionStaysOpen(string frame, string code)
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);
        await using var bystander = await TestClient.ConnectAsync(node);

        await client.SendAsync(frame);

        var error = await client.ReceiveAsync();
        Assert.Equal("error", error.Type());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        await client.AssertAliveAsync();
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AnIdOf129CharactersIsABadFrame()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);

        await client.SendAsync($$"""{"type":"ping","id":"{{new string('i', 129)}}"}""");

        Assert.Equal("bad-frame", (await client.ReceiveAsync()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task AnErrorEchoesTheBadFramesValidId()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);

        await client.SendAsync("""{"type":"send","to":"bob","id":"m-9"}""");

        var error = await client.ReceiveAsync();
        Assert.Equal("m-9", error.GetProperty("id").GetString());
        await client.SendAsync("""{"type":"nope","id":3}""");
        Assert.Equal(3, (await client.ReceiveAsync()).GetProperty("id").GetInt32());
    }

    [Fact]
    public async Task DeeplyNestedJsonIsBadJsonNotACrash()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node, "clientId=alice");

        var nested = new string('[', 5000) + new string(']', 5000);
        await client.SendAsync($$"""{"type":"send","to":"alice","data":{{nested}}}""");

        Assert.Equal("bad-json", (await client.ReceiveAsync()).GetProperty("code").GetString());
        await client.AssertAliveAsync();
    }

    [Fact]
    public async Task TheEleventhBadFrameWithinTenSecondsGetsItsErrorThenACloseWith1008()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);
        await using var bystander = await TestClient.ConnectAsync(node);

        for (var i = 1; i <= 10; i++)
        {
            await client.SendAsync("{bad");
            Assert.Equal("bad-json", (await client.ReceiveAsync()).GetProperty("code").GetString());
        }

        await client.AssertAliveAsync();
        await client.SendAsync("""{"type":"mystery"}""");

        Assert.Equal("unknown-type", (await client.ReceiveAsync()).GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.ReceiveCloseAsync());
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AOneMebibyteMessageClosesWith1009AndOthersKeepBeingServed()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);
        await using var bystander = await TestClient.ConnectAsync(node);

        var big = Encoding.UTF8.GetBytes($$"""{"type":"send","to":"x","data":"{{new string('a', 1024 * 1024)}}"}""");
        _ = client.SendTextAsync(big);

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.ReceiveCloseAsync());
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AMessageOfExactlyTheLimitIsAcceptedAndOneByteMoreIsNot()
    {
        const int limit = 1024;
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:MaxMessageBytes", limit)));
        await using var client = await TestClient.ConnectAsync(node, "clientId=alice");

        await client.SendAsync(PaddedSend(limit));
        Assert.Equal("delivered", (await client.ReceiveOfTypeAsync("ack")).Status());

        await client.SendAsync(PaddedSend(limit + 1));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.ReceiveCloseAsync());
    }

    [Fact]
    public async Task AFragmentedMessageIsReassembledAndTheLimitAppliesToTheWhole()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:MaxMessageBytes", 1024)));
        await using var client = await TestClient.ConnectAsync(node, "clientId=alice");

        var frame = Encoding.UTF8.GetBytes(Frames.Send("alice", "\"in three parts\"", id: "f"));
        await client.SendTextAsync(frame.AsMemory(0, 10), endOfMessage: false);
        await client.SendTextAsync(frame.AsMemory(10, 10), endOfMessage: false);
        await client.SendTextAsync(frame.AsMemory(20));
        Assert.Equal("delivered", (await client.ReceiveOfTypeAsync("ack")).Status());

        // 3 fragments of 400 bytes: each is small, together they pass the limit.
        var chunk = new byte[400];
        Array.Fill(chunk, (byte)' ');
        await client.SendTextAsync(chunk, endOfMessage: false);
        await client.SendTextAsync(chunk, endOfMessage: false);
        await client.SendTextAsync(chunk, endOfMessage: false);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.ReceiveCloseAsync());
    }

    [Fact]
    public async Task ABinaryFrameClosesWith1008()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);
        await using var bystander = await TestClient.ConnectAsync(node);

        await client.Socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.ReceiveCloseAsync());
        await bystander.AssertAliveAsync();
    }

    /// <summary>Regression: an empty binary message was consumed by the zero-byte peek and ignored, not closed.</summary>
    [Fact]
    public async Task AnEmptyBinaryFrameClosesWith1008Too()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);

        await client.Socket.SendAsync(Array.Empty<byte>(), WebSocketMessageType.Binary, true, CancellationToken.None);

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.ReceiveCloseAsync());
    }

    [Fact]
    public async Task InvalidUtf8InATextFrameClosesWith1007AndOthersKeepBeingServed()
    {
        await using var node = await WsNode.StartAsync();
        await using var bystander = await TestClient.ConnectAsync(node);
        using var raw = await RawConnection.ConnectAsync(node);
        Assert.Equal(RawConnection.OpText, (await raw.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);

        await raw.SendFrameAsync(RawConnection.OpText, new byte[] { (byte)'{', 0xC3, 0x28, (byte)'}' });

        var close = await raw.ReadFrameAsync(TestClient.Timeout);
        Assert.NotNull(close);
        Assert.Equal(RawConnection.OpClose, close.Value.Opcode);
        Assert.Equal(1007, (close.Value.Payload[0] << 8) | close.Value.Payload[1]);
        await bystander.AssertAliveAsync();
    }

    [Fact]
    public async Task AMessageEndingInsideACharacterClosesWith1007EvenWhenItsLastFragmentIsEmpty()
    {
        // Found by the hostile-input fuzzer: the WebSocket layer checks UTF-8 per frame and let this through.
        await using var node = await WsNode.StartAsync();
        using var raw = await RawConnection.ConnectAsync(node);
        Assert.Equal(RawConnection.OpText, (await raw.ReadFrameAsync(TestClient.Timeout))!.Value.Opcode);

        await raw.SendFrameAsync(RawConnection.OpText, "{\"type\":\"ping\"}"u8.ToArray(), fin: false);
        await raw.SendFrameAsync(RawConnection.OpContinuation, new byte[] { (byte)' ', 0xC3 }, fin: false);
        await raw.SendFrameAsync(RawConnection.OpContinuation, ReadOnlyMemory<byte>.Empty);

        var close = await raw.ReadFrameAsync(TestClient.Timeout);
        Assert.NotNull(close);
        Assert.Equal(RawConnection.OpClose, close.Value.Opcode);
        Assert.Equal(1007, (close.Value.Payload[0] << 8) | close.Value.Payload[1]);
    }

    /// <summary>A send to oneself padded to exactly <paramref name="bytes"/> bytes of UTF-8.</summary>
    private static string PaddedSend(int bytes)
    {
        var empty = Frames.Send("alice", "\"\"", id: "p");
        return Frames.Send("alice", $"\"{new string('p', bytes - Encoding.UTF8.GetByteCount(empty))}\"", id: "p");
    }
}
