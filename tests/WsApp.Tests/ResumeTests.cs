using System.Net.WebSockets;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>docs/protocol.md §4, §5 and §5a on one node: tokens, takeover, replay after lastSeq, recovered.</summary>
public sealed class ResumeTests
{
    // The clock jumps over minutes here; a heartbeat tick on each side of a jump would drop clients that had no
    // chance to answer in between.
    private static readonly (string, object) NoHeartbeatWithinTheTest = ("Ws:HeartbeatSeconds", 3600);

    [Fact]
    public async Task AKnownIdWithoutItsTokenIsRefusedWith401AndTheOwnerKeepsIt()
    {
        await using var node = await WsNode.StartAsync();
        await using var owner = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var sender = await TestClient.ConnectAsync(node);

        Assert.Equal(401, await TestClient.ConnectStatusAsync(node, "clientId=alice"));
        Assert.Equal(401, await TestClient.ConnectStatusAsync(node, "clientId=alice&resumeToken=wrong"));
        var otherToken = sender.ResumeToken;
        Assert.Equal(401, await TestClient.ConnectStatusAsync(node, $"clientId=alice&resumeToken={otherToken}"));

        // Still alice's: messages reach the original socket.
        await sender.SendAsync(Frames.Send("alice", "1", id: "s"));
        Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());
        Assert.Equal(1, (await owner.ReceiveAsync()).Seq());
    }

    [Fact]
    public async Task AKnownIdDisconnectedWithinTheTtlStillNeedsItsToken()
    {
        await using var node = await WsNode.StartAsync();
        var first = await TestClient.ConnectAsync(node, "clientId=alice");
        await first.DisposeAsync();

        Assert.Equal(401, await TestClient.ConnectStatusAsync(node, "clientId=alice"));
    }

    [Fact]
    public async Task ResumingWithTheTokenTakesOverAndTheOldSocketIsClosedWith4000()
    {
        await using var node = await WsNode.StartAsync();
        await using var old = await TestClient.ConnectAsync(node, "clientId=alice");

        await using var resumed = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={old.ResumeToken}");

        Assert.Equal((WebSocketCloseStatus)4000, await old.ReceiveCloseAsync());
        Assert.True(resumed.Welcome.GetProperty("resumed").GetBoolean());
        Assert.Equal(old.ResumeToken, resumed.ResumeToken);
        // The new socket is the owner: sends reach it.
        await using var sender = await TestClient.ConnectAsync(node);
        await sender.SendAsync(Frames.Send("alice", "1", id: "s"));
        Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());
        Assert.Equal(1, (await resumed.ReceiveAsync()).Seq());
    }

    [Fact]
    public async Task TheOldSocketsCloseDoesNotReleaseTheNewClaim()
    {
        await using var node = await WsNode.StartAsync();
        var old = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var resumed = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={old.ResumeToken}");
        await old.ReceiveCloseAsync();
        await old.DisposeAsync();
        await using var sender = await TestClient.ConnectAsync(node);

        // Had the old socket's release won, the id would read as disconnected (queued).
        for (var i = 0; i < 5; i++)
        {
            await sender.SendAsync(Frames.Send("alice", "1", id: "s"));
            Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task AResumeReplaysWhatWasMissedInOrderBeforeAnythingNewAndSeqContinues()
    {
        await using var node = await WsNode.StartAsync();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var token = alice.ResumeToken;
        await sender.SendAsync(Frames.Send("alice", "1"));
        await sender.SendAsync(Frames.Send("alice", "2"));
        Assert.Equal(1, (await alice.ReceiveAsync()).Seq());
        Assert.Equal(2, (await alice.ReceiveAsync()).Seq());
        await alice.DisposeAsync();
        for (var n = 3; n <= 5; n++)
        {
            await sender.SendAsync(Frames.Send("alice", n.ToString(System.Globalization.CultureInfo.InvariantCulture), id: "q"));
            Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
        }

        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={token}&lastSeq=2");
        await sender.SendAsync(Frames.Send("alice", "6"));

        Assert.True(back.Welcome.GetProperty("resumed").GetBoolean());
        Assert.Equal(3, back.Welcome.GetProperty("replayed").GetInt32());
        Assert.True(back.Welcome.GetProperty("recovered").GetBoolean());
        for (var seq = 3; seq <= 6; seq++)
        {
            var message = await back.ReceiveAsync();
            Assert.Equal(seq, message.Seq());
            Assert.Equal(seq, message.GetProperty("data").GetInt32());
        }
    }

    [Fact]
    public async Task AResumeWithoutLastSeqReplaysTheWholeLog()
    {
        await using var node = await WsNode.StartAsync();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await sender.SendAsync(Frames.Send("alice", "1"));
        await alice.ReceiveAsync();
        await alice.DisposeAsync();

        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}");

        Assert.Equal(1, back.Welcome.GetProperty("replayed").GetInt32());
        Assert.Equal(1, (await back.ReceiveAsync()).Seq());
    }

    [Fact]
    public async Task ALastSeqAboveTheSessionsCounterMeansTheLogWasLostReplayNothingAndSayNotRecovered()
    {
        await using var node = await WsNode.StartAsync();
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await alice.DisposeAsync();

        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}&lastSeq=40");

        Assert.True(back.Welcome.GetProperty("resumed").GetBoolean());
        Assert.Equal(0, back.Welcome.GetProperty("replayed").GetInt32());
        Assert.False(back.Welcome.GetProperty("recovered").GetBoolean());
    }

    [Fact]
    public async Task MoreMissedThanTheLogHoldsReplaysTheNewestAndSaysNotRecovered()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:LogMaxMessages", 5)));
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await alice.DisposeAsync();
        for (var n = 1; n <= 8; n++)
        {
            await sender.SendAsync(Frames.Send("alice", n.ToString(System.Globalization.CultureInfo.InvariantCulture), id: "q"));
            await sender.ReceiveOfTypeAsync("ack");
        }

        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}&lastSeq=0");

        Assert.False(back.Welcome.GetProperty("recovered").GetBoolean());
        Assert.Equal(5, back.Welcome.GetProperty("replayed").GetInt32());
        for (var seq = 4; seq <= 8; seq++)
        {
            Assert.Equal(seq, (await back.ReceiveAsync()).Seq());
        }
    }

    [Fact]
    public async Task MessagesOlderThanTheLogWindowAreNotReplayed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:LogMaxAgeSeconds", 60), ("Ws:SessionTtlSeconds", 600), NoHeartbeatWithinTheTest), time);
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await alice.DisposeAsync();
        await sender.SendAsync(Frames.Send("alice", "\"old\"", id: "1"));
        await sender.ReceiveOfTypeAsync("ack");
        time.Advance(TimeSpan.FromSeconds(61));
        await sender.SendAsync(Frames.Send("alice", "\"new\"", id: "2"));
        await sender.ReceiveOfTypeAsync("ack");

        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}&lastSeq=0");

        Assert.False(back.Welcome.GetProperty("recovered").GetBoolean());
        var only = await back.ReceiveAsync();
        Assert.Equal((2L, "\"new\""), (only.Seq(), only.GetProperty("data").GetRawText()));
    }

    [Fact]
    public async Task AfterTheSessionTtlTheIdIsUnknownAndAFreshSessionRestartsSeqAtOne()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:SessionTtlSeconds", 120), NoHeartbeatWithinTheTest), time);
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await sender.SendAsync(Frames.Send("alice", "1"));
        await alice.ReceiveAsync();
        await alice.DisposeAsync();
        // Polled on the server, not with frames: the frozen clock never refills the sender's frame budget.
        var store = node.Services.GetRequiredService<ISessionStore>();
        await Eventually.TrueAsync(async () => (await store.GetSessionAsync("alice", default))?.Server is null);

        time.Advance(TimeSpan.FromSeconds(119));
        await sender.SendAsync(Frames.Send("alice", "2", id: "before"));
        Assert.Equal("queued", (await sender.ReceiveOfTypeAsync("ack")).Status());
        time.Advance(TimeSpan.FromSeconds(1));
        await sender.SendAsync(Frames.Send("alice", "3", id: "after"));
        Assert.Equal("unknown", (await sender.ReceiveOfTypeAsync("ack")).Status());

        // The old token is ignored for an expired id: a fresh session with a new token.
        await using var fresh = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}&lastSeq=3");
        Assert.False(fresh.Welcome.GetProperty("resumed").GetBoolean());
        Assert.NotEqual(alice.ResumeToken, fresh.ResumeToken);
        await sender.SendAsync(Frames.Send("alice", "4"));
        Assert.Equal(1, (await fresh.ReceiveAsync()).Seq());
    }

    [Fact]
    public async Task ATokenForAnIdNeverSeenIsIgnored()
    {
        await using var node = await WsNode.StartAsync();

        await using var client = await TestClient.ConnectAsync(node, "clientId=newcomer&resumeToken=made-up&lastSeq=5");

        Assert.False(client.Welcome.GetProperty("resumed").GetBoolean());
        Assert.True(client.Welcome.GetProperty("recovered").GetBoolean());
        Assert.NotEqual("made-up", client.ResumeToken);
    }

    [Fact]
    public async Task ReplayIsCompleteEvenForMessagesAnEarlierSocketAlreadyGot()
    {
        await using var node = await WsNode.StartAsync();
        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        await using var old = await TestClient.ConnectAsync(node, "clientId=alice");
        await sender.SendAsync(Frames.Send("alice", "1"));
        await sender.SendAsync(Frames.Send("alice", "2"));
        await old.ReceiveAsync();
        await old.ReceiveAsync();

        await using var second = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={old.ResumeToken}&lastSeq=0");

        Assert.Equal(2, second.Welcome.GetProperty("replayed").GetInt32());
        Assert.Equal(1, (await second.ReceiveAsync()).Seq());
        Assert.Equal(2, (await second.ReceiveAsync()).Seq());
    }
}
