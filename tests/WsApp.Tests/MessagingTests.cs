using System.Text.Json;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>docs/protocol.md §2 and §5: send, acks, message frames and seq on one node.</summary>
public sealed class MessagingTests
{
    [Fact]
    public async Task ASendToAConnectedClientIsDeliveredWithFromSeqAndDataAsWritten()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");

        await alice.SendAsync(Frames.Send("bob", """{"text":"hi","n":[1,2.5,null]}""", id: "m1"));

        var ack = await alice.ReceiveAsync();
        Assert.Equal("ack", ack.Type());
        Assert.Equal("m1", ack.GetProperty("id").GetString());
        Assert.Equal("delivered", ack.Status());
        var message = await bob.ReceiveAsync();
        Assert.Equal("message", message.Type());
        Assert.Equal("alice", message.GetProperty("from").GetString());
        Assert.Equal(1, message.Seq());
        Assert.Equal("""{"text":"hi","n":[1,2.5,null]}""", message.GetProperty("data").GetRawText());
        Assert.False(message.TryGetProperty("group", out _));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("0")]
    [InlineData("\"text\"")]
    [InlineData("[true,false]")]
    public async Task AnyJsonValueIsAcceptedAsData(string data)
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");

        await alice.SendAsync(Frames.Send("bob", data));

        var message = await bob.ReceiveAsync();
        Assert.Equal(data, message.GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task ASendWithoutIdGetsNoAck()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");

        await alice.SendAsync(Frames.Send("bob", "1"));
        await bob.ReceiveOfTypeAsync("message");

        // The next frame alice sees is the pong, not an ack.
        await alice.SendAsync("""{"type":"ping","id":7}""");
        var next = await alice.ReceiveAsync();
        Assert.Equal("pong", next.Type());
        Assert.Equal(7, next.GetProperty("id").GetInt32());
    }

    [Fact]
    public async Task ANumericIdIsEchoedAsGiven()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"send","to":"nobody","data":1,"id":12.50}""");

        var ack = await alice.ReceiveAsync();
        Assert.Equal("12.50", ack.GetProperty("id").GetRawText());
        Assert.Equal("unknown", ack.Status());
    }

    [Fact]
    public async Task ASendToAKnownDisconnectedClientIsQueuedAndToANeverSeenIdIsUnknown()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await bob.DisposeAsync();
        await Eventually.TrueAsync(async () =>
        {
            await alice.SendAsync(Frames.Send("bob", "0", id: "probe"));
            return (await alice.ReceiveOfTypeAsync("ack")).Status() == "queued";
        });

        await alice.SendAsync(Frames.Send("carol", "1", id: "x"));

        Assert.Equal("unknown", (await alice.ReceiveOfTypeAsync("ack")).Status());
    }

    [Fact]
    public async Task SeqIsGaplessFromOneAndKeepsTheSendersOrder()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await using var carol = await TestClient.ConnectAsync(node, "clientId=carol");

        for (var i = 0; i < 50; i++)
        {
            await alice.SendAsync(Frames.Send("carol", $$"""{"from":"a","n":{{i}}}"""));
            await bob.SendAsync(Frames.Send("carol", $$"""{"from":"b","n":{{i}}}"""));
        }

        var next = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0 };
        for (var seq = 1; seq <= 100; seq++)
        {
            var message = await carol.ReceiveAsync();
            Assert.Equal(seq, message.Seq());
            var data = message.GetProperty("data");
            var sender = data.GetProperty("from").GetString()!;
            Assert.Equal(next[sender]++, data.GetProperty("n").GetInt32());
        }
    }

    [Fact]
    public async Task AClientCanSendToItself()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync(Frames.Send("alice", "\"note\"", id: "self"));

        var frames = new[] { await alice.ReceiveAsync(), await alice.ReceiveAsync() };
        Assert.Contains(frames, f => f.Type() == "ack" && f.Status() == "delivered");
        Assert.Contains(frames, f => f.Type() == "message" && f.GetProperty("from").GetString() == "alice");
    }

    [Fact]
    public async Task AnApplicationPingIsAnsweredWithAPongThatHasNoIdWhenThePingHadNone()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node);

        await alice.SendAsync("""{"type":"ping"}""");

        var pong = await alice.ReceiveAsync();
        Assert.Equal("pong", pong.Type());
        Assert.False(pong.TryGetProperty("id", out _));
    }

    [Fact]
    public async Task UnknownExtraFieldsAreIgnored()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"extra":{"deep":[1,2]},"type":"send","to":"alice","data":1,"id":"e","more":null}""");

        Assert.Equal("delivered", (await alice.ReceiveOfTypeAsync("ack")).Status());
    }
}
