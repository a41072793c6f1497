using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>PROTOCOL.md §5a "Groups" on one node.</summary>
public sealed class GroupTests
{
    [Fact]
    public async Task AGroupSendReachesEveryMemberButTheSenderWithTheGroupField()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await using var carol = await TestClient.ConnectAsync(node, "clientId=carol");
        await using var dave = await TestClient.ConnectAsync(node, "clientId=dave");
        foreach (var member in new[] { alice, bob, carol })
        {
            await member.SendAsync(Frames.Join("room-1", id: "j"));
            var ack = await member.ReceiveAsync();
            Assert.Equal(("ack", "ok", "j"), (ack.Type(), ack.Status(), ack.GetProperty("id").GetString()));
        }

        await alice.SendAsync(Frames.SendToGroup("room-1", "\"hello room\"", id: "g1"));

        Assert.Equal("delivered", (await alice.ReceiveOfTypeAsync("ack")).Status());
        foreach (var member in new[] { bob, carol })
        {
            var message = await member.ReceiveAsync();
            Assert.Equal("room-1", message.GetProperty("group").GetString());
            Assert.Equal("alice", message.GetProperty("from").GetString());
            Assert.Equal(1, message.Seq());
        }

        // Alice got no copy, and dave (not a member) got nothing: each one's next frame is its own pong.
        await alice.AssertAliveAsync();
        await dave.AssertAliveAsync();
    }

    [Fact]
    public async Task AGroupWithNoOtherMemberAnswersUnknown()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync(Frames.SendToGroup("empty", "1", id: "a"));
        Assert.Equal("unknown", (await alice.ReceiveOfTypeAsync("ack")).Status());

        await alice.SendAsync(Frames.Join("solo", id: "j"));
        await alice.ReceiveOfTypeAsync("ack");
        await alice.SendAsync(Frames.SendToGroup("solo", "1", id: "b"));
        Assert.Equal("unknown", (await alice.ReceiveOfTypeAsync("ack")).Status());
    }

    [Fact]
    public async Task AfterLeaveAClientNoLongerReceivesTheGroup()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await bob.SendAsync(Frames.Join("news", id: "j"));
        await bob.ReceiveOfTypeAsync("ack");

        await bob.SendAsync(Frames.Leave("news", id: "l"));
        Assert.Equal("ok", (await bob.ReceiveOfTypeAsync("ack")).Status());
        await alice.SendAsync(Frames.SendToGroup("news", "1", id: "g"));

        Assert.Equal("unknown", (await alice.ReceiveOfTypeAsync("ack")).Status());
        await bob.AssertAliveAsync();
    }

    [Fact]
    public async Task MembershipSurvivesAResumeAndGroupMessagesMissedMeanwhileAreReplayed()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        var token = bob.ResumeToken;
        await bob.SendAsync(Frames.Join("news", id: "j"));
        await bob.ReceiveOfTypeAsync("ack");
        await bob.DisposeAsync();

        await alice.SendAsync(Frames.SendToGroup("news", "\"while away\"", id: "g"));
        Assert.Equal("delivered", (await alice.ReceiveOfTypeAsync("ack")).Status());

        await using var back = await TestClient.ConnectAsync(node, $"clientId=bob&resumeToken={token}&lastSeq=0");
        Assert.Equal(1, back.Welcome.GetProperty("replayed").GetInt32());
        var replayed = await back.ReceiveAsync();
        Assert.Equal("news", replayed.GetProperty("group").GetString());

        await alice.SendAsync(Frames.SendToGroup("news", "\"after\"", id: "g2"));
        Assert.Equal(2, (await back.ReceiveAsync()).Seq());
    }
}
