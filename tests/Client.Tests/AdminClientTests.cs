using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Options;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Client.Tests;

/// <summary>
/// The typed admin client against the real admin function classes over real HTTP (<see cref="AdminApiServer"/>), a
/// real redis-server and real WsApp nodes: each call end to end, down to what a client reads on its socket.
/// </summary>
public sealed class AdminClientTests
{
    [Fact]
    public async Task ASendReachesTheSocketFromAdminAndIsQueuedWhileTheClientIsAway()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        var sent = await env.Admin.SendToClientAsync("alice", new { notice = "hi", n = 1 });

        Assert.Equal(new SendResult("delivered"), sent);
        var message = await alice.ReceiveAsync();
        Assert.Equal(("message", "admin", true, """{"notice":"hi","n":1}"""), (message.Type(), message.GetProperty("from").GetString(), message.GetProperty("admin").GetBoolean(), message.GetProperty("data").GetRawText()));

        await alice.CloseAsync();
        await Eventually.TrueAsync(async () => (await env.Admin.GetClientAsync("alice")).Server is null);
        Assert.Equal(new SendResult("queued"), await env.Admin.SendToClientAsync("alice", 2));
        await using var back = await TestClient.ConnectAsync(node, $"clientId=alice&resumeToken={alice.ResumeToken}&lastSeq=1");
        Assert.Equal(2, (await back.ReceiveAsync()).GetProperty("data").GetInt32());
    }

    [Fact]
    public async Task AGroupSendAndABroadcastReachEveryMemberOnEveryNode()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var a = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n1");
        await using var b = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n2");
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(b, "clientId=bob");
        await using var carol = await TestClient.ConnectAsync(b, "clientId=carol");
        foreach (var member in new[] { alice, bob })
        {
            await member.SendAsync(Frames.Join("news", id: "j"));
            await member.ReceiveOfTypeAsync("ack");
        }

        Assert.Equal(new SendResult("delivered"), await env.Admin.SendToGroupAsync("news", new { extra = true }));
        foreach (var member in new[] { alice, bob })
        {
            var message = await member.ReceiveAsync();
            Assert.Equal(("admin", "news", """{"extra":true}"""), (message.GetProperty("from").GetString(), message.Group(), message.GetProperty("data").GetRawText()));
        }

        await env.Functions.ReconcileAllAsync();
        var broadcast = await env.Admin.BroadcastAsync(new { all = true });

        Assert.Equal(new SendResult("delivered", 3), broadcast);
        foreach (var client in new[] { alice, bob, carol })
        {
            var message = await client.ReceiveAsync();
            Assert.Equal(("*", """{"all":true}"""), (message.Group(), message.GetProperty("data").GetRawText()));
        }

        // carol is in no group but "*": a send to "news" never reached her.
        await carol.AssertAliveAsync();
    }

    [Fact]
    public async Task ClosingAClientClosesItsSocketWith4001AndASecondCloseIsNotFound()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");

        await env.Admin.CloseClientAsync("alice");

        Assert.Equal((WebSocketCloseStatus)4001, await alice.ReceiveCloseAsync());
        await bob.AssertAliveAsync();
        await Eventually.TrueAsync(async () => !(await env.Admin.GetClientAsync("alice")).Connected);
        var again = await Assert.ThrowsAsync<AdminNotFoundException>(() => env.Admin.CloseClientAsync("alice"));
        Assert.Equal((HttpStatusCode.NotFound, "Not found", "Client 'alice' is not connected."), (again.Status, again.Title, again.Detail));
    }

    [Fact]
    public async Task LookupsListingAndTotalsShowTheLiveFleet()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var a = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n1", ("Ws:LeaseSeconds", 15));
        await using var b = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n2", ("Ws:LeaseSeconds", 15));
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using var alice = await TestClient.ConnectAsync(a, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(b, "clientId=bob");
        await using var carol = await TestClient.ConnectAsync(b, "clientId=carol");
        await env.Functions.ReconcileAllAsync();

        var view = await env.Admin.GetClientAsync("alice");
        Assert.Equal(("alice", "n1", true), (view.ClientId, view.Server, view.Connected));
        Assert.True(view.Epoch > 0);
        Assert.InRange(view.ConnectedAt, before, DateTimeOffset.UtcNow.AddSeconds(1));

        // One page at a time, and the whole walk.
        var first = await env.Admin.ListClientsAsync(limit: 2);
        Assert.Equal([new ClientListItem("alice", "n1"), new ClientListItem("bob", "n2")], first.Items);
        var second = await env.Admin.ListClientsAsync(cursor: first.NextCursor, limit: 2);
        Assert.Equal([new ClientListItem("carol", "n2")], second.Items);
        Assert.Null(second.NextCursor);
        Assert.Equal(["alice", "bob", "carol"], await env.Admin.ListAllClientsAsync(pageSize: 1).Select(c => c.ClientId).ToArrayAsync());
        Assert.Equal(["bob", "carol"], await env.Admin.ListAllClientsAsync(server: "n2").Select(c => c.ClientId).ToArrayAsync());

        var servers = await env.Admin.ListServersAsync();
        Assert.Equal([("n1", 1L), ("n2", 2L)], servers.Select(s => (s.Id, s.Connections)).Order());
        Assert.All(servers, s => Assert.InRange(s.LeaseExpiresAt, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(16)));

        await env.Admin.SendToClientAsync("bob", 1);
        var stats = await env.Admin.GetStatsAsync();
        Assert.Equal((2L, 3L, 1L, 0L), (stats.Servers, stats.Connections, stats.MessagesRouted, stats.Takeovers));
    }

    [Fact]
    public async Task ProblemDetailsComeBackAsTypedExceptionsWithTheirStatusTitleAndDetail()
    {
        await using var env = await AdminEnvironment.StartAsync(new WsOptions { MaxMessageBytes = 256 });
        await using var node = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        var unknown = await Assert.ThrowsAsync<AdminNotFoundException>(() => env.Admin.SendToClientAsync("nobody", 1));
        Assert.Equal((HttpStatusCode.NotFound, "Not found", "No client 'nobody'."), (unknown.Status, unknown.Title, unknown.Detail));
        await Assert.ThrowsAsync<AdminNotFoundException>(() => env.Admin.GetClientAsync("nobody"));
        Assert.Equal("Group 'empty' has no members.", (await Assert.ThrowsAsync<AdminNotFoundException>(() => env.Admin.SendToGroupAsync("empty", 1))).Detail);

        // An id outside the id rule reaches the API as one path segment, and the API refuses it.
        var badId = await Assert.ThrowsAsync<AdminBadRequestException>(() => env.Admin.SendToClientAsync("a b/c", 1));
        Assert.Equal((HttpStatusCode.BadRequest, "Bad request", "clientId must be 1-128 characters of [A-Za-z0-9._:-]."), (badId.Status, badId.Title, badId.Detail));
        Assert.Equal(HttpStatusCode.BadRequest, (await Assert.ThrowsAsync<AdminBadRequestException>(() => env.Admin.ListClientsAsync(limit: 0))).Status);
        Assert.Contains("server", (await Assert.ThrowsAsync<AdminBadRequestException>(() => env.Admin.ListClientsAsync(server: "x/y"))).Detail, StringComparison.Ordinal);

        var tooLarge = await Assert.ThrowsAsync<AdminPayloadTooLargeException>(() => env.Admin.SendToClientAsync("alice", new string('x', 300)));
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "Payload too large", "The body may be at most 256 bytes."), (tooLarge.Status, tooLarge.Title, tooLarge.Detail));

        // None of them reached alice.
        await alice.AssertAliveAsync();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("a-wrong-function-key")]
    public async Task AMissingOrWrongFunctionKeyIsUnauthorized(string? key)
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var services = AdminEnvironment.Client(env.Server, key);
        var admin = services.GetRequiredService<ServerlessWsAdminClient>();

        var refused = await Assert.ThrowsAsync<AdminUnauthorizedException>(() => admin.GetStatsAsync());

        Assert.Equal((HttpStatusCode.Unauthorized, null, null), (refused.Status, refused.Type, refused.Detail));
        Assert.Equal(0, env.Server.Calls.GetValueOrDefault("GetStats"));
    }

    [Fact]
    public async Task ACancelledCallThrowsAndSendsNothing()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => env.Admin.SendToClientAsync("alice", 1, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => env.Admin.CloseClientAsync("alice", cancelled.Token));

        Assert.Empty(env.Server.Calls);
        // The next frame alice reads is her pong: no message, no close.
        await alice.AssertAliveAsync();
    }

    /// <summary>
    /// The typed client covers the admin API: every HTTP function WsFunctions declares (but the OpenAPI document, for
    /// tools) is reached by one of its calls. A route added to WsFunctions without a typed call fails here.
    /// </summary>
    [Fact]
    public async Task EveryAdminRouteIsReachedByATypedCall()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var node = await WsNode.StartOnRedisAsync(env.Functions.Redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await alice.SendAsync(Frames.Join("room", id: "j"));
        await alice.ReceiveOfTypeAsync("ack");
        var admin = env.Admin;

        await admin.ListServersAsync();
        await admin.GetStatsAsync();
        await admin.GetClientAsync("alice");
        await admin.ListClientsAsync();
        await admin.SendToClientAsync("alice", 1);
        await admin.SendToGroupAsync("room", 1);
        await admin.BroadcastAsync(1);
        await admin.CloseClientAsync("alice");
        Assert.Empty((await admin.ListDeadLettersAsync(limit: 10)).Items);
        await Assert.ThrowsAsync<AdminNotFoundException>(() => admin.ReplayDeadLetterAsync("1-1"));

        var reached = env.Server.Calls.Keys.Order(StringComparer.Ordinal);
        var declared = AdminApiServer.Functions.Select(f => f.Name).Where(n => n != "GetOpenApiDocument").Order(StringComparer.Ordinal);
        Assert.Equal(declared, reached);
        // The discovery is not vacuous: the eight routes of docs/protocol.md §6 and the document are there at least.
        Assert.True(AdminApiServer.Functions.Count >= 9, $"{AdminApiServer.Functions.Count} HTTP functions found");
    }

    [Fact]
    public void AMissingOrRelativeBaseAddressIsRefusedByName()
    {
        foreach (var address in new Uri?[] { null, new("api/", UriKind.Relative) })
        {
            var services = new ServiceCollection();
            services.AddServerlessWsAdminClient(o => o.BaseAddress = address);
            using var provider = services.BuildServiceProvider();

            var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ServerlessWsAdminClient>());

            Assert.Contains("BaseAddress", error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>A walk of every client ends even against an API whose cursor does not move forward (here: always the same).</summary>
    [Fact]
    public async Task WalkingEveryClientStopsWhenTheCursorDoesNotAdvance()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var stuck = builder.Build();
        stuck.MapGet("/api/clients", () => new ClientPage([new ClientListItem("alice", "n1")], "alice"));
        await stuck.StartAsync();
        var services = new ServiceCollection();
        services.AddServerlessWsAdminClient(o => o.BaseAddress = new Uri(Loopback.AddressOf(stuck) + "/api/"));
        await using var provider = services.BuildServiceProvider();
        var seen = new List<string>();

        var error = await Assert.ThrowsAsync<AdminApiException>(async () =>
        {
            await foreach (var client in provider.GetRequiredService<ServerlessWsAdminClient>().ListAllClientsAsync())
            {
                seen.Add(client.ClientId);
                if (seen.Count > 5)
                {
                    // Bounded: a walk that does not stop fails here rather than running on.
                    break;
                }
            }
        });

        Assert.Equal("Cursor did not advance", error.Title);
        Assert.Equal(["alice", "alice"], seen);
    }
}
