using System.Net.WebSockets;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Functions.Admin;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Functions.Tests;

/// <summary>Every admin route (docs/protocol.md §6), happy path and bad input, against a real node and real sockets.</summary>
public sealed class AdminApiTests
{
    [Fact]
    public async Task AnAdminSendReachesTheSocketFromAdminAndAQueuedOneIsReplayed()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        var sent = await f.Messages.SendToClient(FunctionsHarness.Request("POST", """{"notice":"hi"}"""), "alice");

        Assert.Equal(new SendResult("delivered"), Accepted(sent));
        var message = await alice.ReceiveAsync();
        Assert.Equal(("admin", 1L, """{"notice":"hi"}"""), (message.GetProperty("from").GetString(), message.Seq(), message.GetProperty("data").GetRawText()));

        await alice.CloseAsync();
        await Eventually.TrueAsync(async () => (await f.Store.GetSessionAsync("alice", default))!.Server is null);
        Assert.Equal(new SendResult("queued"), Accepted(await f.Messages.SendToClient(FunctionsHarness.Request("POST", "2"), "alice")));
        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}&lastSeq=1");
        Assert.Equal(2, (await back.ReceiveAsync()).GetProperty("data").GetInt32());
    }

    [Theory]
    [InlineData("not json", 400)]
    [InlineData("", 400)]
    [InlineData("{\"a\":1} trailing", 400)]
    public async Task ABodyThatIsNotOneJsonValueIs400(string body, int status)
    {
        await using var f = await FunctionsHarness.StartAsync();
        await f.Store.ClaimAsync("alice", null, 0, "n1", default);

        AssertProblem(status, await f.Messages.SendToClient(FunctionsHarness.Request("POST", body), "alice"));
    }

    /// <summary>
    /// Regression (found by the admin API fuzzer, Chaos.Tests AdminApiFuzzTests): JsonDocument does not check the
    /// encoding inside strings, so a body with invalid UTF-8 was accepted and delivered verbatim in a text frame, and
    /// the recipient's WebSocket failed the connection with 1007.
    /// </summary>
    [Fact]
    public async Task ABodyThatIsNotUtf8Is400AndNeverReachesTheClient()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var request = FunctionsHarness.Request("POST");
        request.Body = new MemoryStream([(byte)'"', 0xC3, 0x28, (byte)'"']);

        AssertProblem(400, await f.Messages.SendToClient(request, "alice"));

        await alice.AssertAliveAsync();
        Assert.Equal(new SendResult("delivered"), Accepted(await f.Messages.SendToClient(FunctionsHarness.Request("POST", "\"ok\""), "alice")));
        Assert.Equal("ok", (await alice.ReceiveOfTypeAsync("message")).GetProperty("data").GetString());
    }

    /// <summary>
    /// Regression (found by the admin API fuzzer): data nested 64 deep was accepted, and the message that wraps it
    /// (65 levels) broke a client reading frames with the 64 levels the contract allows a frame.
    /// </summary>
    [Fact]
    public async Task DataNestedDeeperThan63LevelsIs400SoEveryMessageStaysWithin64()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        static string Nested(int depth) => new string('[', depth) + new string(']', depth);

        AssertProblem(400, await f.Messages.SendToClient(FunctionsHarness.Request("POST", Nested(64)), "alice"));
        Assert.Equal(new SendResult("delivered"), Accepted(await f.Messages.SendToClient(FunctionsHarness.Request("POST", Nested(63)), "alice")));

        Assert.Equal(Nested(63), (await alice.ReceiveOfTypeAsync("message")).GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task ABodyOverTheMessageLimitIs413AndOneAtTheLimitIsAccepted()
    {
        await using var f = await FunctionsHarness.StartAsync(new Core.Options.WsOptions { MaxMessageBytes = 1024 });
        await f.Store.ClaimAsync("alice", null, 0, "n1", default);

        var atLimit = $"\"{new string('x', 1022)}\"";
        Assert.Equal(202, ((ObjectResult)await f.Messages.SendToClient(FunctionsHarness.Request("POST", atLimit), "alice")).StatusCode);
        AssertProblem(413, await f.Messages.SendToClient(FunctionsHarness.Request("POST", atLimit + " "), "alice"));
    }

    [Fact]
    public async Task ASendToAnUnknownIdIs404AndABadIdIs400()
    {
        await using var f = await FunctionsHarness.StartAsync();

        AssertProblem(404, await f.Messages.SendToClient(FunctionsHarness.Request("POST", "1"), "nobody"));
        AssertProblem(400, await f.Messages.SendToClient(FunctionsHarness.Request("POST", "1"), "bad id"));
        AssertProblem(400, await f.Messages.SendToGroup(FunctionsHarness.Request("POST", "1"), "bad/group"));
        AssertProblem(400, await f.Clients.Get(FunctionsHarness.Request("GET"), new string('a', 129)));
        AssertProblem(400, await f.Clients.Close(FunctionsHarness.Request("DELETE"), "a b"));
    }

    [Fact]
    public async Task AGroupSendReachesEveryMemberWithTheGroupAndAnEmptyGroupIs404()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var a = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var b = await WsNode.StartOnRedisAsync(f.Redis, "n2");
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(b, "clientId=bob");
        foreach (var member in new[] { alice, bob })
        {
            await member.SendAsync(Frames.Join("news", id: "j"));
            await member.ReceiveOfTypeAsync("ack");
        }

        Assert.Equal(new SendResult("delivered"), Accepted(await f.Messages.SendToGroup(FunctionsHarness.Request("POST", "\"extra\""), "news")));
        foreach (var member in new[] { alice, bob })
        {
            var message = await member.ReceiveAsync();
            Assert.Equal(("admin", true, "news", 1L), (message.GetProperty("from").GetString(), message.GetProperty("admin").GetBoolean(), message.Group(), message.Gseq()));
        }

        AssertProblem(404, await f.Messages.SendToGroup(FunctionsHarness.Request("POST", "1"), "empty"));
    }

    [Fact]
    public async Task ABroadcastReachesEveryConnectedClientOnEveryNode()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var a = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var b = await WsNode.StartOnRedisAsync(f.Redis, "n2");
        var clients = new List<TestClient>();
        for (var i = 0; i < 6; i++)
        {
            clients.Add(await TestClient.ConnectAsync(i % 2 == 0 ? a : b, $"clientId=c{i}"));
        }

        await f.ReconcileAllAsync();
        // Connected after the index was reconciled: a broadcast no longer walks the index, so it is reached too.
        clients.Add(await TestClient.ConnectAsync(b, "clientId=late"));
        var before = (await f.Store.ReadGroupLogAsync(Groups.Broadcast, 0, default)).LastGseq;
        var result = Accepted(await f.Messages.Broadcast(FunctionsHarness.Request("POST", """{"all":true}""")));

        Assert.Equal(new SendResult("delivered", 6), result);
        var log = await f.Store.ReadGroupLogAsync(Groups.Broadcast, before, default);
        Assert.Equal(before + 1, log.LastGseq);
        Assert.Single(log.Entries);
        foreach (var client in clients)
        {
            var message = await client.ReceiveAsync();
            Assert.Equal(("""{"all":true}""", "*", before + 1, "admin", true), (message.GetProperty("data").GetRawText(), message.Group(), message.Gseq(), message.GetProperty("from").GetString(), message.GetProperty("admin").GetBoolean()));
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task DeletingAClientClosesItsSocketWith4001OnWhateverNodeHoldsIt()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");

        Assert.Equal(202, ((IStatusCodeActionResult)await f.Clients.Close(FunctionsHarness.Request("DELETE"), "alice")).StatusCode);

        Assert.Equal((WebSocketCloseStatus)4001, await alice.ReceiveCloseAsync());
        await bob.AssertAliveAsync();
        await Eventually.TrueAsync(async () => (await f.Store.GetSessionAsync("alice", default))!.Server is null);
        AssertProblem(404, await f.Clients.Close(FunctionsHarness.Request("DELETE"), "alice"));
        AssertProblem(404, await f.Clients.Close(FunctionsHarness.Request("DELETE"), "nobody"));
    }

    [Fact]
    public async Task GettingAClientShowsItsOwnerEpochAndConnectTime()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        var view = Assert.IsType<ClientView>(((OkObjectResult)await f.Clients.Get(FunctionsHarness.Request("GET"), "alice")).Value);

        Assert.Equal(("alice", "n1", true), (view.ClientId, view.Server, view.Connected));
        Assert.True(view.Epoch > 0);
        Assert.InRange(view.ConnectedAt, before, DateTimeOffset.UtcNow.AddSeconds(1));
        AssertProblem(404, await f.Clients.Get(FunctionsHarness.Request("GET"), "nobody"));
    }

    [Fact]
    public async Task ServersAndStatsShowTheLiveFleet()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1", ("Ws:LeaseSeconds", 15));
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await alice.SendAsync(Frames.Send("bob", "1", id: "s"));
        await alice.ReceiveOfTypeAsync("ack");
        await f.ReconcileAllAsync();
        await Eventually.TrueAsync(async () => ((StatsView)((OkObjectResult)await f.Fleet.GetStats(FunctionsHarness.Request("GET"))).Value!).MessagesRouted >= 1, TimeSpan.FromSeconds(15));

        var servers = (IReadOnlyList<ServerView>)((OkObjectResult)await f.Fleet.ListServers(FunctionsHarness.Request("GET"))).Value!;
        var stats = (StatsView)((OkObjectResult)await f.Fleet.GetStats(FunctionsHarness.Request("GET"))).Value!;

        var server = Assert.Single(servers);
        Assert.Equal(("n1", 2L), (server.Id, server.Connections));
        Assert.InRange(server.LeaseExpiresAt, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(16));
        Assert.Equal((1L, 2L, 1L), (stats.Servers, stats.Connections, stats.MessagesRouted));
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=1001")]
    [InlineData("?limit=ten")]
    [InlineData("?limit=-1")]
    [InlineData("?cursor=a%20b")]
    [InlineData("?server=x/y")]
    public async Task ABadListQueryIs400(string query)
    {
        await using var f = await FunctionsHarness.StartAsync();

        AssertProblem(400, await f.Clients.List(FunctionsHarness.Request("GET", query: query)));
    }

    [Fact]
    public async Task PagingReturnsEveryStayingIdExactlyOnceWhileOthersConnectAndLeave()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        var staying = new List<TestClient>();
        for (var i = 0; i < 60; i++)
        {
            staying.Add(await TestClient.ConnectAsync(node, $"clientId=stay-{i:D3}"));
        }

        await f.ReconcileAllAsync();
        var seen = new List<string>();
        var churn = new List<TestClient>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var query = cursor is null ? "?limit=7" : $"?limit=7&cursor={cursor}";
            var page = (ClientPage)((OkObjectResult)await f.Clients.List(FunctionsHarness.Request("GET", query: query))).Value!;
            Assert.InRange(page.Items.Count, 0, 7);
            seen.AddRange(page.Items.Select(i => i.ClientId));
            cursor = page.NextCursor;

            // Between pages: ids come (before and after the cursor in id order) and go.
            churn.Add(await TestClient.ConnectAsync(node, $"clientId=aaa-{pages}"));
            churn.Add(await TestClient.ConnectAsync(node, $"clientId=zzz-{pages}"));
            if (churn.Count > 4)
            {
                await churn[0].DisposeAsync();
                churn.RemoveAt(0);
            }

            await f.ReconcileAllAsync();
            pages++;
        }
        while (cursor is not null && pages < 100);

        Assert.Null(cursor);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.All(staying, s => Assert.Single(seen, id => id == s.ClientId));
        foreach (var client in staying.Concat(churn))
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task ListingByServerShowsOnlyThatServersClients()
    {
        await using var f = await FunctionsHarness.StartAsync();
        await using var a = await WsNode.StartOnRedisAsync(f.Redis, "n1");
        await using var b = await WsNode.StartOnRedisAsync(f.Redis, "n2");
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(b, "clientId=bob");
        await f.ReconcileAllAsync();

        var page = (ClientPage)((OkObjectResult)await f.Clients.List(FunctionsHarness.Request("GET", query: "?server=n2"))).Value!;

        Assert.Equal([new ClientListItem("bob", "n2")], page.Items);
        Assert.Null(page.NextCursor);
    }

    private static SendResult Accepted(IActionResult result)
    {
        var accepted = Assert.IsType<AcceptedResult>(result);
        return Assert.IsType<SendResult>(accepted.Value);
    }

    private static void AssertProblem(int status, IActionResult result)
    {
        var problem = Assert.IsType<ObjectResult>(result);
        Assert.Equal(status, problem.StatusCode);
        Assert.Contains("application/problem+json", problem.ContentTypes);
        Assert.Equal(status, Assert.IsType<ProblemDetails>(problem.Value).Status);
    }
}
