using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Redis;
using ServerlessWs.Functions.Admin;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// docs/protocol.md §7, durable <c>event</c> delivery: real WsApp nodes store what their clients send, the dispatcher
/// (as the worker registers it) delivers it to a real handler on loopback, signed, once per ce-id and in order per
/// client, retries a failing handler, parks what keeps failing, and the admin API replays it.
/// </summary>
public sealed class UpstreamDispatcherTests : IAsyncLifetime
{
    private UpstreamHandler _handler = null!;

    public async Task InitializeAsync() => _handler = await UpstreamHandler.StartAsync();

    public async Task DisposeAsync() => await _handler.DisposeAsync();

    [Fact]
    public async Task TwoDispatchersDeliverEveryEventOncePerCeIdInOrderPerClientSigned()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = _handler.Settings(("Upstream:Partitions", 4), ("Upstream:PollMilliseconds", 10));
        await using var node1 = await WsNode.StartOnRedisAsync(redis, "n1", settings);
        await using var node2 = await WsNode.StartOnRedisAsync(redis, "n2", settings);
        await using var first = await FunctionsHarness.AttachAsync(redis, settings: settings);
        await using var second = await FunctionsHarness.AttachAsync(redis, settings: settings);
        await first.Dispatcher.StartAsync(default);
        await second.Dispatcher.StartAsync(default);

        const int perClient = 25;
        var clients = new List<TestClient>();
        for (var i = 0; i < 6; i++)
        {
            clients.Add(await TestClient.ConnectAsync(i % 2 == 0 ? node1 : node2, $"clientId=c{i}"));
        }

        await Task.WhenAll(clients.Select(async c =>
        {
            for (var n = 0; n < perClient; n++)
            {
                await c.SendAsync($$"""{"type":"event","event":"saved","data":{"n":{{n}}},"id":{{n}}}""");
                Assert.Equal("accepted", (await c.ReceiveAsync()).GetProperty("status").GetString());
            }
        }));

        await Eventually.TrueAsync(() => _handler.Calls.Count >= clients.Count * perClient, TimeSpan.FromSeconds(30), "every accepted event reaches the handler");
        await first.Dispatcher.StopAsync(default);
        await second.Dispatcher.StopAsync(default);
        var calls = _handler.Calls;
        Assert.Equal(calls.Count, calls.Select(c => c.CeId).Distinct().Count());
        Assert.All(calls, c => Assert.True(c.SignatureVerified, $"{c.CeId} does not verify"));
        Assert.All(calls, c => Assert.Equal(("serverlessws.user.saved", "/clients/" + c.ClientId), (c.CeType, c.Source)));
        foreach (var client in clients)
        {
            var received = calls.Where(c => c.ClientId == client.ClientId).Select(c => JsonDocument.Parse(c.Body).RootElement.GetProperty("n").GetInt32());
            Assert.Equal(Enumerable.Range(0, perClient), received);
        }

        Assert.Equal(0, await first.EventLog.LengthAsync(0) + await first.EventLog.LengthAsync(1) + await first.EventLog.LengthAsync(2) + await first.EventLog.LengthAsync(3));
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task AFailingHandlerIsRetriedThenTheEventIsParkedAndAReplayFromTheAdminApiDeliversIt()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = _handler.Settings(("Upstream:Partitions", 1), ("Upstream:MaxAttempts", 3), ("Upstream:RetryBaseMilliseconds", 20), ("Upstream:RetryMaxMilliseconds", 50), ("Upstream:PollMilliseconds", 10));
        await using var node = await WsNode.StartOnRedisAsync(redis, "n1", settings);
        await using var f = await FunctionsHarness.AttachAsync(redis, settings: settings);
        var healed = false;
        _handler.Answer = call => call.Body.Contains("bad", StringComparison.Ordinal) && !healed ? 500 : 204;
        var outcomes = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "ws.upstream.calls")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var kind = tags.ToArray().Single(t => t.Key == "kind").Value;
            outcomes.Enqueue($"{kind} {tags.ToArray().Single(t => t.Key == "outcome").Value}");
        });
        listener.Start();
        await f.Dispatcher.StartAsync(default);
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        foreach (var data in new[] { "\"one\"", "\"bad\"", "\"three\"" })
        {
            await alice.SendAsync($$"""{"type":"event","event":"saved","data":{{data}},"id":1}""");
            Assert.Equal("accepted", (await alice.ReceiveAsync()).GetProperty("status").GetString());
        }

        await Eventually.TrueAsync(() => _handler.Calls.Any(c => c.Body == "\"three\""), TimeSpan.FromSeconds(20), "the event after the parked one is delivered");
        // Three calls with one ce-id, then parked; the client's next event only after them.
        Assert.Equal(["\"one\"", "\"bad\"", "\"bad\"", "\"bad\"", "\"three\""], _handler.Calls.Select(c => c.Body));
        var badId = _handler.Calls[1].CeId;
        Assert.All(_handler.Calls.Skip(1).Take(3), c => Assert.Equal(badId, c.CeId));

        // Each call counted by its outcome, and the parking once.
        await Eventually.TrueAsync(() => outcomes.Count >= 6, TimeSpan.FromSeconds(10), "every call is counted");
        Assert.Equal(["event dead", "event failed", "event failed", "event failed", "event ok", "event ok"], outcomes.Order(StringComparer.Ordinal));
        var page = Assert.IsType<DeadLetterPage>(Assert.IsType<OkObjectResult>(await f.Upstream.List(FunctionsHarness.Request("GET"))).Value);
        var dead = Assert.Single(page.Items);
        Assert.Equal((badId, "alice", "saved", "user", 3, "\"bad\""), (dead.CeId, dead.ClientId, dead.Event, dead.Kind, dead.Attempts, dead.Data?.GetRawText()));
        Assert.Contains("500", dead.Reason, StringComparison.Ordinal);
        Assert.Null(page.NextAfter);

        healed = true;
        var replay = Assert.IsType<AcceptedResult>(await f.Upstream.Replay(FunctionsHarness.Request("POST"), dead.Id));
        Assert.Equal(new ReplayResult(dead.Id, badId), replay.Value);
        await Eventually.TrueAsync(() => _handler.Calls.Count == 6, TimeSpan.FromSeconds(20), "the replayed event is delivered");
        Assert.Equal((badId, "\"bad\""), (_handler.Calls[5].CeId, _handler.Calls[5].Body));
        Assert.Empty(Assert.IsType<DeadLetterPage>(Assert.IsType<OkObjectResult>(await f.Upstream.List(FunctionsHarness.Request("GET"))).Value).Items);
        Assert.Equal(404, Status(await f.Upstream.Replay(FunctionsHarness.Request("POST"), dead.Id)));
        await f.Dispatcher.StopAsync(default);
    }

    [Fact]
    public async Task LifecycleEventsFollowTheOwnershipEventsAndOnlyTheConfiguredOnes()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = _handler.Settings(("Upstream:LifecycleEvents:0", "connected"), ("Upstream:LifecycleEvents:1", "takeover"), ("Upstream:PollMilliseconds", 10));
        await using var node1 = await WsNode.StartOnRedisAsync(redis, "n1", settings);
        await using var node2 = await WsNode.StartOnRedisAsync(redis, "n2", settings);
        await using var f = await FunctionsHarness.AttachAsync(redis, settings: settings);
        await f.Dispatcher.StartAsync(default);
        // The dispatcher's group on ws:events starts at what is written after it is made.
        await Eventually.TrueAsync(async () => await f.Db.KeyExistsAsync(RedisKeys.Events) && (await f.Db.StreamGroupInfoAsync(RedisKeys.Events)).Any(g => g.Name == "upstream"), TimeSpan.FromSeconds(10));

        var alice = await TestClient.ConnectAsync(node1, "clientId=alice");
        await using var taken = await TestClient.ConnectAsync(node2, $"clientId=alice&resumeToken={alice.ResumeToken}");
        await alice.DisposeAsync();
        await taken.CloseAsync();

        await Eventually.TrueAsync(() => _handler.Calls.Count >= 2, TimeSpan.FromSeconds(20), "connected and takeover reach the handler");
        await Task.Delay(300);
        await f.Dispatcher.StopAsync(default);
        var calls = _handler.Calls;
        // No disconnected: it is not asked for.
        Assert.Equal(["serverlessws.sys.connected", "serverlessws.sys.takeover"], calls.Select(c => c.CeType));
        Assert.All(calls, c => Assert.Equal(("alice", "/clients/alice", (string?)null), (c.ClientId, c.Source, c.UserId)));
        Assert.Equal(("n1", "n2"), (calls[0].ServerId, calls[1].ServerId));
        var takeover = JsonDocument.Parse(calls[1].Body).RootElement;
        Assert.Equal(("n2", "n1"), (takeover.GetProperty("server").GetString(), takeover.GetProperty("previousServer").GetString()));
        Assert.All(calls, c => Assert.True(c.SignatureVerified));
    }

    [Theory]
    [InlineData("claimed", "connected")]
    [InlineData("takeover", "takeover")]
    [InlineData("released", "disconnected")]
    [InlineData("server-down", null)]
    public void EachOwnershipEventMapsToItsLifecycleEventWithAStableCeId(string type, string? lifecycle)
    {
        var e = type switch
        {
            "claimed" => ClusterEvent.Claimed("alice", "n1", 1_700_000_000_000_001),
            "takeover" => ClusterEvent.Takeover("alice", "n1", 1_700_000_000_000_001, "n0"),
            "released" => ClusterEvent.Released("alice", "n1", 1_700_000_000_000_001),
            _ => ClusterEvent.ServerDown("n1"),
        };

        var record = Functions.Upstream.UpstreamDispatcher.Lifecycle(new ReceivedEvent("1700000000123-4", e));

        Assert.Equal(lifecycle, record?.Event);
        if (record is not null)
        {
            Assert.Equal(("ev-1700000000123-4", "serverlessws.sys." + lifecycle, "alice", "n1", (string?)null), (record.CeId, record.CeType, record.ClientId, record.ServerId, record.UserId));
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), record.Time);
            var data = JsonDocument.Parse(record.Data).RootElement;
            Assert.Equal(("n1", "1700000000000001"), (data.GetProperty("server").GetString(), data.GetProperty("epoch").GetString()));
            Assert.Equal(type == "takeover", data.TryGetProperty("previousServer", out _));
        }
    }

    [Fact]
    public async Task TheDeadLetterRoutesRefuseBadInputWithProblems()
    {
        await using var f = await FunctionsHarness.StartAsync();

        Assert.Equal(400, Status(await f.Upstream.List(FunctionsHarness.Request("GET", query: "?after=nope"))));
        Assert.Equal(400, Status(await f.Upstream.List(FunctionsHarness.Request("GET", query: "?limit=0"))));
        Assert.Equal(400, Status(await f.Upstream.List(FunctionsHarness.Request("GET", query: "?limit=1001"))));
        Assert.Equal(400, Status(await f.Upstream.Replay(FunctionsHarness.Request("POST"), "not-an-id")));
        Assert.Equal(400, Status(await f.Upstream.Replay(FunctionsHarness.Request("POST"), "99999999999999999999-0")));
        Assert.Equal(404, Status(await f.Upstream.Replay(FunctionsHarness.Request("POST"), "1-0")));
        Assert.Equal(200, Status(await f.Upstream.List(FunctionsHarness.Request("GET", query: "?limit=1000&after=1-0"))));
    }

    private static int Status(IActionResult result) => ((Microsoft.AspNetCore.Mvc.Infrastructure.IStatusCodeActionResult)result).StatusCode!.Value;
}
