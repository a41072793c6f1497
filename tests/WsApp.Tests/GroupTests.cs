using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;

namespace ServerlessWs.App.Tests;

/// <summary>docs/protocol.md §5b (groups and broadcast, contract v2) on one node.</summary>
public sealed class GroupTests
{
    [Fact]
    public async Task AGroupSendReachesEveryMemberButTheSenderWithTheGroupAndItsGseq()
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
            Assert.Equal(("ack", "ok", "j", "room-1", 0L), (ack.Type(), ack.Status(), ack.GetProperty("id").GetString(), ack.Group(), ack.Gseq()));
        }

        await alice.SendAsync(Frames.SendToGroup("room-1", "\"hello room\"", id: "g1"));
        await alice.SendAsync(Frames.SendToGroup("room-1", "\"again\"", id: "g2"));

        // Alice, a member, gets her two acks and no copy of her own messages: her next frames are exactly those.
        foreach (var id in new[] { "g1", "g2" })
        {
            var ack = await alice.ReceiveAsync();
            Assert.Equal(("ack", id, "delivered"), (ack.Type(), ack.GetProperty("id").GetString(), ack.Status()));
        }

        foreach (var member in new[] { bob, carol })
        {
            var first = await member.ReceiveAsync();
            var second = await member.ReceiveAsync();
            Assert.Equal(("room-1", "alice", 1L, "\"hello room\""), (first.Group(), first.GetProperty("from").GetString(), first.Gseq(), first.GetProperty("data").GetRawText()));
            Assert.Equal(2L, second.Gseq());
            Assert.False(first.TryGetProperty("seq", out _), "seq counts direct messages only");
            Assert.False(first.TryGetProperty("admin", out _));
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
        await using var carol = await TestClient.ConnectAsync(node, "clientId=carol");
        foreach (var member in new[] { bob, carol })
        {
            await member.SendAsync(Frames.Join("news", id: "j"));
            await member.ReceiveOfTypeAsync("ack");
        }

        await bob.SendAsync(Frames.Leave("news", id: "l"));
        Assert.Equal("ok", (await bob.ReceiveOfTypeAsync("ack")).Status());
        await alice.SendAsync(Frames.SendToGroup("news", "1", id: "g"));

        Assert.Equal("delivered", (await alice.ReceiveOfTypeAsync("ack")).Status());
        Assert.Equal(1L, (await carol.ReceiveAsync()).Gseq());
        await bob.AssertAliveAsync();
    }

    [Fact]
    public async Task AJoinerGetsWhatComesAfterTheGseqItsAckNames()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await using var carol = await TestClient.ConnectAsync(node, "clientId=carol");
        await bob.SendAsync(Frames.Join("news", id: "j"));
        await bob.ReceiveOfTypeAsync("ack");
        await alice.SendAsync(Frames.SendToGroup("news", "1", id: "1"));
        await alice.SendAsync(Frames.SendToGroup("news", "2", id: "2"));
        await alice.ReceiveOfTypeAsync("ack");
        await alice.ReceiveOfTypeAsync("ack");

        await carol.SendAsync(Frames.Join("news", id: "j"));
        Assert.Equal(2L, (await carol.ReceiveOfTypeAsync("ack")).Gseq());
        await alice.SendAsync(Frames.SendToGroup("news", "3", id: "3"));

        Assert.Equal(3L, (await carol.ReceiveAsync()).Gseq());
        await ExpectGseqsAsync(bob, 1, 3);
    }

    [Fact]
    public async Task AResumeWithSinceReplaysTheGroupsMessagesAfterItThenLiveOnes()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        var token = bob.ResumeToken;
        await bob.SendAsync(Frames.Join("news", id: "j"));
        await bob.ReceiveOfTypeAsync("ack");
        await alice.SendAsync(Frames.SendToGroup("news", "\"seen\"", id: "g0"));
        Assert.Equal(1L, (await bob.ReceiveAsync()).Gseq());
        await bob.DisposeAsync();
        for (var n = 2; n <= 4; n++)
        {
            await alice.SendAsync(Frames.SendToGroup("news", n.ToString(CultureInfo.InvariantCulture), id: "g"));
            Assert.Equal("delivered", (await alice.ReceiveOfTypeAsync("ack")).Status());
        }

        await using var back = await TestClient.ConnectAsync(node, $"clientId=bob&resumeToken={token}&lastSeq=0&since=news:1");

        var groups = back.Welcome.GetProperty("groups");
        Assert.Equal((1L, true), (groups.GetProperty("news").GetProperty("gseq").GetInt64(), groups.GetProperty("news").GetProperty("recovered").GetBoolean()));
        Assert.True(groups.TryGetProperty("*", out _), "every session is in the broadcast group");
        Assert.Equal((3, true), (back.Welcome.GetProperty("replayed").GetInt32(), back.Welcome.GetProperty("recovered").GetBoolean()));
        await ExpectGseqsAsync(back, 2, 4);
        await alice.SendAsync(Frames.SendToGroup("news", "5", id: "g5"));
        Assert.Equal(5L, (await back.ReceiveAsync()).Gseq());
    }

    [Fact]
    public async Task AResumeThatDoesNotNameAGroupStartsAtItsCurrentPosition()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var bob = await JoinedThenGoneAsync(node, "bob", "news");
        await alice.SendAsync(Frames.SendToGroup("news", "1", id: "g"));
        await alice.ReceiveOfTypeAsync("ack");

        await using var back = await TestClient.ConnectAsync(node, $"clientId=bob&resumeToken={bob.ResumeToken}");

        Assert.Equal(1L, back.Welcome.GetProperty("groups").GetProperty("news").GetProperty("gseq").GetInt64());
        Assert.Equal(0, back.Welcome.GetProperty("replayed").GetInt32());
        await alice.SendAsync(Frames.SendToGroup("news", "2", id: "g"));
        Assert.Equal(2L, (await back.ReceiveAsync()).Gseq());
    }

    [Fact]
    public async Task ASincePastTheGroupsWindowIsNotRecovered()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:LogMaxMessages", 3)));
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var bob = await JoinedThenGoneAsync(node, "bob", "news");
        for (var n = 1; n <= 6; n++)
        {
            await alice.SendAsync(Frames.SendToGroup("news", "0", id: "g"));
            await alice.ReceiveOfTypeAsync("ack");
        }

        await using var back = await TestClient.ConnectAsync(node, $"clientId=bob&resumeToken={bob.ResumeToken}&since=news:1");

        var news = back.Welcome.GetProperty("groups").GetProperty("news");
        // Delivery starts just before the oldest message the window still holds.
        Assert.Equal((3L, false, false), (news.GetProperty("gseq").GetInt64(), news.GetProperty("recovered").GetBoolean(), back.Welcome.GetProperty("recovered").GetBoolean()));
        await ExpectGseqsAsync(back, 4, 6);
    }

    [Fact]
    public async Task AMemberThatSentToItsGroupGetsNoCopyLiveInACatchUpOrInItsReplay()
    {
        await using var node = await WsNode.StartAsync();
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        foreach (var member in new[] { alice, bob })
        {
            await member.SendAsync(Frames.Join("room", id: "j"));
            await member.ReceiveOfTypeAsync("ack");
        }

        await alice.SendAsync(Frames.SendToGroup("room", "\"mine\"", id: "a1"));
        Assert.Equal("ack", (await alice.ReceiveAsync()).Type());
        await bob.SendAsync(Frames.SendToGroup("room", "\"bob's\"", id: "b1"));
        Assert.Equal(2L, (await alice.ReceiveAsync()).Gseq());
        await alice.DisposeAsync();
        await bob.SendAsync(Frames.SendToGroup("room", "\"while away\"", id: "b2"));
        await bob.ReceiveOfTypeAsync("ack");

        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}&since=room:0");

        Assert.Equal(2, back.Welcome.GetProperty("replayed").GetInt32());
        Assert.Equal(2L, (await back.ReceiveAsync()).Gseq());
        Assert.Equal(3L, (await back.ReceiveAsync()).Gseq());
        await back.AssertAliveAsync();
    }

    [Fact]
    public async Task ASincePastTheGroupsCounterMeansItsLogWasLostAndDeliveryStartsAtTheCounter()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var bob = await JoinedThenGoneAsync(node, "bob", "news");
        await alice.SendAsync(Frames.SendToGroup("news", "1", id: "g"));
        await alice.ReceiveOfTypeAsync("ack");

        await using var back = await TestClient.ConnectAsync(node, $"clientId=bob&resumeToken={bob.ResumeToken}&since=news:99");

        var news = back.Welcome.GetProperty("groups").GetProperty("news");
        Assert.Equal((1L, false, 0), (news.GetProperty("gseq").GetInt64(), news.GetProperty("recovered").GetBoolean(), back.Welcome.GetProperty("replayed").GetInt32()));
        await alice.SendAsync(Frames.SendToGroup("news", "2", id: "g"));
        Assert.Equal(2L, (await back.ReceiveAsync()).Gseq());
    }

    [Theory]
    [InlineData("since=news")]
    [InlineData("since=:5")]
    [InlineData("since=news:")]
    [InlineData("since=news:x")]
    [InlineData("since=news:-1")]
    [InlineData("since=news:1234567890123456")]
    [InlineData("since=a%20b:1")]
    [InlineData("since=news:1&since=news:2")]
    [InlineData("since=**:1")]
    public async Task AMalformedSinceIsRefusedWith400(string query)
    {
        await using var node = await WsNode.StartAsync();

        Assert.Equal(400, await TestClient.ConnectStatusAsync(node, query));
    }

    [Fact]
    public async Task SinceMaySplitAtTheLastColonAndNameGroupsTheSessionIsNotIn()
    {
        await using var node = await WsNode.StartAsync();
        var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await bob.SendAsync(Frames.Join("a:b", id: "j"));
        await bob.ReceiveOfTypeAsync("ack");
        await bob.DisposeAsync();

        await using var back = await TestClient.ConnectAsync(node, $"clientId=bob&resumeToken={bob.ResumeToken}&since=a:b:0&since=elsewhere:3&since=*:0");

        var groups = back.Welcome.GetProperty("groups");
        Assert.Equal(["*", "a:b"], groups.EnumerateObject().Select(g => g.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task TooManySinceIsRefusedWith400()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:MaxGroupsPerClient", 2)));
        var query = string.Join('&', Enumerable.Range(0, 4).Select(i => $"since=g{i}:0"));

        Assert.Equal(400, await TestClient.ConnectStatusAsync(node, query));
        Assert.Equal(101, await TestClient.ConnectStatusAsync(node, string.Join('&', Enumerable.Range(0, 3).Select(i => $"since=g{i}:0"))));
    }

    [Fact]
    public async Task AJoinBeyondMaxGroupsPerClientIsNotAllowed()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var admin = await redis.ConnectAsync();
        await using var node = await WsNode.StartOnRedisAsync(redis, "max-groups", ("Ws:MaxGroupsPerClient", 2));
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        foreach (var group in new[] { "g1", "g2" })
        {
            await alice.SendAsync(Frames.Join(group, id: group));
            Assert.Equal("ok", (await alice.ReceiveOfTypeAsync("ack")).Status());
        }

        await alice.SendAsync(Frames.Join("g3", id: "g3"));

        var error = await alice.ReceiveAsync();
        Assert.Equal(("error", "not-allowed", "g3"), (error.Type(), error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
        // The refused join leaves no hold on g3 behind: the node stops hearing it.
        await Eventually.TrueAsync(async () => await HeardAsync(admin, "g1", "g2", "g3") == "g1,g2");
    }

    [Fact]
    public async Task AJoinOfAFullGroupIsNotAllowedAndTheJoinerGetsNothingOfIt()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:MaxMembersPerGroup", 1)));
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await using var carol = await TestClient.ConnectAsync(node, "clientId=carol");
        await alice.SendAsync(Frames.Join("vip", id: "a"));
        Assert.Equal("ok", (await alice.ReceiveOfTypeAsync("ack")).Status());

        await bob.SendAsync(Frames.Join("vip", id: "b"));

        var error = await bob.ReceiveAsync();
        Assert.Equal(("error", "not-allowed", "b"), (error.Type(), error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
        await carol.SendAsync(Frames.SendToGroup("vip", "1", id: "c"));
        Assert.Equal("delivered", (await carol.ReceiveOfTypeAsync("ack")).Status());
        Assert.Equal(1L, (await alice.ReceiveAsync()).Gseq());
        await bob.AssertAliveAsync();
    }

    [Fact]
    public async Task ANodeHearsAGroupOnlyWhileItHoldsAMemberOfIt()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var admin = await redis.ConnectAsync();
        await using var node = await WsNode.StartOnRedisAsync(redis, "hearing");
        var connections = node.Connections();
        var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        Assert.Equal("*", await HeardAsync(admin, Groups.Broadcast, "a", "b"));

        await alice.SendAsync(Frames.Join("a", id: "1"));
        await alice.SendAsync(Frames.Join("b", id: "2"));
        await bob.SendAsync(Frames.Join("b", id: "3"));
        await alice.ReceiveOfTypeAsync("ack");
        await alice.ReceiveOfTypeAsync("ack");
        await bob.ReceiveOfTypeAsync("ack");
        // A join is acknowledged once the node hears the group.
        Assert.Equal("*,a,b", await HeardAsync(admin, Groups.Broadcast, "a", "b"));

        await alice.SendAsync(Frames.Leave("a", id: "4"));
        await alice.ReceiveOfTypeAsync("ack");
        await Eventually.TrueAsync(async () => await HeardAsync(admin, Groups.Broadcast, "a", "b") == "*,b", because: "a's last member left");
        await alice.DisposeAsync();
        await Eventually.TrueAsync(() => connections.Count == 1, because: "alice's socket did not close");
        Assert.Equal("*,b", await HeardAsync(admin, Groups.Broadcast, "a", "b"));
        await bob.SendAsync(Frames.Leave("b", id: "5"));
        await bob.ReceiveOfTypeAsync("ack");
        await Eventually.TrueAsync(async () => await HeardAsync(admin, Groups.Broadcast, "a", "b") == "*", because: "b's last member left");

        // Many connects and closes leave the broadcast group held, as before.
        for (var i = 0; i < 20; i++)
        {
            await using var passer = await TestClient.ConnectAsync(node);
        }

        await Eventually.TrueAsync(() => connections.Count == 1, because: "the passers' sockets did not close");
        Assert.Equal("*", await HeardAsync(admin, Groups.Broadcast, "a", "b"));
    }

    /// <summary>
    /// Which of <paramref name="groups"/> a node (the only one on <paramref name="admin"/>'s Redis) hears, in order,
    /// comma-separated: it subscribes to a group's bell channel (docs/design.md) while it hears the group.
    /// </summary>
    private static async Task<string> HeardAsync(StackExchange.Redis.ConnectionMultiplexer admin, params string[] groups)
    {
        var reply = (StackExchange.Redis.RedisResult[])(await admin.GetDatabase().ExecuteAsync("PUBSUB", ["NUMSUB", .. groups.Select(g => (object)$"ws:{{g:{g}}}:bell")]))!;
        return string.Join(",", groups.Where((_, i) => (long)reply[(2 * i) + 1] > 0));
    }

    [Fact]
    public async Task AGroupSendIsChargedItsFanOutAgainstTheSendersByteBudgetAndABystanderIsServed()
    {
        // The clock stands still: the budget never refills, so what it allows is exact.
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:SendBytesPerSecond", 10_000)), time: new Microsoft.Extensions.Time.Testing.FakeTimeProvider());
        var members = new List<TestClient>();
        for (var i = 0; i < 10; i++)
        {
            var member = await TestClient.ConnectAsync(node, $"clientId=m{i}");
            await member.SendAsync(Frames.Join("big", id: "j"));
            await member.ReceiveOfTypeAsync("ack");
            members.Add(member);
        }

        await using var sender = await TestClient.ConnectAsync(node, "clientId=sender");
        await using var bystander = await TestClient.ConnectAsync(node, "clientId=bystander");
        var kilobyte = $"\"{new string('x', 998)}\"";

        // A burst of 20,000 bytes: each 1,000-byte message to 10 members costs 10,000, and the second one may still
        // go (the budget is not spent before it), putting the budget in debt.
        var answers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            await sender.SendAsync(Frames.SendToGroup("big", kilobyte, id: $"g{i}"));
            var answer = await sender.ReceiveAsync();
            answers.Add(answer.Type() == "ack" ? answer.Status() : answer.GetProperty("code").GetString()!);
        }

        Assert.Equal(["delivered", "delivered", "rate-limited", "rate-limited"], answers);
        // Only the two that went were appended: a member gets gseq 1 and 2, then nothing more.
        await ExpectGseqsAsync(members[0], 1, 2);
        await members[0].AssertAliveAsync();
        await bystander.SendAsync(Frames.Send("m1", "1", id: "b"));
        Assert.Equal("delivered", (await bystander.ReceiveOfTypeAsync("ack")).Status());
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("""{"type":"join","group":"*","id":1}""")]
    [InlineData("""{"type":"leave","group":"*","id":1}""")]
    [InlineData("""{"type":"send","group":"*","data":1,"id":1}""")]
    public async Task NoClientCanJoinLeaveOrSendToTheBroadcastGroup(string frame)
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");

        await alice.SendAsync(frame);

        Assert.Equal("bad-frame", (await alice.ReceiveOfTypeAsync("error")).GetProperty("code").GetString());
        await bob.AssertAliveAsync();
    }

    [Theory]
    [InlineData("admin")]
    [InlineData("Admin")]
    [InlineData("ADMIN")]
    public async Task TheAdminIdIsReservedAtConnect(string clientId)
    {
        await using var node = await WsNode.StartAsync();

        Assert.Equal(400, await TestClient.ConnectStatusAsync(node, $"clientId={clientId}"));
        Assert.Equal(101, await TestClient.ConnectStatusAsync(node, "clientId=administrator"));
    }

    [Fact]
    public async Task ABroadcastReachesEveryConnectedClientOnceMarkedAsTheAdmins()
    {
        await using var node = await WsNode.StartAsync();
        var clients = new List<TestClient>();
        for (var i = 0; i < 5; i++)
        {
            clients.Add(await TestClient.ConnectAsync(node, $"clientId=c{i}"));
        }

        var router = node.Services.GetRequiredService<MessageRouter>();
        var sent = await router.SendToGroupAsync(Identifiers.AdminSender, Groups.Broadcast, Encoding.UTF8.GetBytes("\"to all\""), CancellationToken.None);
        await router.SendToGroupAsync(Identifiers.AdminSender, Groups.Broadcast, Encoding.UTF8.GetBytes("\"again\""), CancellationToken.None);

        Assert.Equal(SendOutcome.Delivered, sent.Outcome);
        foreach (var client in clients)
        {
            var first = await client.ReceiveAsync();
            Assert.Equal(("*", sent.Gseq, "admin", true), (first.Group(), first.Gseq(), first.GetProperty("from").GetString(), first.GetProperty("admin").GetBoolean()));
            Assert.Equal(sent.Gseq + 1, (await client.ReceiveAsync()).Gseq());
            await client.AssertAliveAsync();
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task DirectAndGroupSendsThatRaceLoseAndDuplicateNothingInEitherStream()
    {
        const int PerStream = 60;
        await using var node = await WsNode.StartAsync();
        await using var direct = await TestClient.ConnectAsync(node, "clientId=direct");
        await using var grouped = await TestClient.ConnectAsync(node, "clientId=grouped");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await bob.SendAsync(Frames.Join("room", id: "j"));
        await bob.ReceiveOfTypeAsync("ack");

        await Task.WhenAll(
            Task.Run(async () =>
            {
                for (var i = 0; i < PerStream; i++)
                {
                    await direct.SendAsync(Frames.Send("bob", i.ToString(CultureInfo.InvariantCulture)));
                }
            }),
            Task.Run(async () =>
            {
                for (var i = 0; i < PerStream; i++)
                {
                    await grouped.SendAsync(Frames.SendToGroup("room", i.ToString(CultureInfo.InvariantCulture)));
                }
            }));

        var (seqs, gseqs) = (new List<long>(), new List<long>());
        while (seqs.Count + gseqs.Count < 2 * PerStream)
        {
            var message = await bob.ReceiveAsync();
            (message.Group() is null ? seqs : gseqs).Add(message.Group() is null ? message.Seq() : message.Gseq());
        }

        Assert.Equal(Enumerable.Range(1, PerStream).Select(i => (long)i), seqs);
        Assert.Equal(Enumerable.Range(1, PerStream).Select(i => (long)i), gseqs);
        await bob.AssertAliveAsync();
    }

    /// <summary>The client's next messages are its group's gseq <paramref name="first"/> to <paramref name="last"/>, in order.</summary>
    private static async Task ExpectGseqsAsync(TestClient client, long first, long last)
    {
        for (var gseq = first; gseq <= last; gseq++)
        {
            Assert.Equal(gseq, (await client.ReceiveAsync()).Gseq());
        }
    }

    /// <summary>A client that joined <paramref name="group"/> and went away: its session, membership and token stay for a resume.</summary>
    private static async Task<TestClient> JoinedThenGoneAsync(WsNode node, string clientId, string group)
    {
        var client = await TestClient.ConnectAsync(node, $"clientId={clientId}");
        await client.SendAsync(Frames.Join(group, id: "j"));
        Assert.Equal("ok", (await client.ReceiveOfTypeAsync("ack")).Status());
        await client.DisposeAsync();
        return client;
    }
}
