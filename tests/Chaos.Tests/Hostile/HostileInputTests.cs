using CsCheck;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>
/// Scenario 5, hostile input on the WebSocket side (docs/protocol.md §1-§3, §5a): CsCheck generates sessions of random
/// query strings and frames (random JSON shapes, unknown types, missing and mistyped fields, nesting past 64 levels,
/// messages over the limit, binary, fragments with pings between them, invalid UTF-8, RFC 6455 violations). Each
/// input must get exactly its documented answer, the node must not fall over, and a bystander must receive every
/// message the fuzzed sends owe it, once and in order. A failure prints CsCheck's seed; <c>CsCheck_Seed=…</c> replays it.
/// </summary>
public sealed class HostileInputTests
{
    private const int MaxMessageBytes = 2048;

    [Fact]
    public async Task EveryRandomQueryAndFrameGetsItsDocumentedAnswerAndTheBystanderMissesNothing()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(
            ("Ws:MaxMessageBytes", MaxMessageBytes),
            // The per-connection rate and the heartbeat have their own tests; here they would only blur the answers.
            ("Ws:FramesPerSecond", 1_000_000),
            ("Ws:SendBytesPerSecond", 1_000_000_000),
            ("Ws:HeartbeatSeconds", 600),
            ("Ws:SessionTtlSeconds", 3600)));
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var bystanderId = "bystander-" + suffix;
        var group = "bystanders-" + suffix;
        await using var bystander = await TestClient.ConnectAsync(node, $"clientId={bystanderId}");
        await bystander.SendAsync(Frames.Join(group, id: "j"));
        Assert.Equal("ok", (await bystander.ReceiveAsync()).Status());

        var runner = new HostileSessionRunner(node, bystanderId, bystander.ResumeToken, new FrameOracle(bystanderId, group), MaxMessageBytes);
        var sessions = ChaosSettings.Pick(150, 3_000);
        var started = DateTime.UtcNow;
        await new HostileGen(bystanderId, group, MaxMessageBytes).Session.SampleAsync(runner.RunAsync, iter: sessions, threads: 1);
        var elapsed = DateTime.UtcNow - started;

        // The bystander: every owed message, once, in order, with seq 1, 2, 3… and nothing else.
        var (received, lost, duplicated, outOfOrder) = await Bystander.CheckAsync(bystander, runner.Owed);
        using var http = new HttpClient { BaseAddress = node.BaseUri, Timeout = TestClient.Timeout };
        var health = (int)(await http.GetAsync("/healthz")).StatusCode;

        ReliabilityReport.Record(new ScenarioFigures("5a. hostile input: queries and frames")
        {
            Clients = sessions + 1,
            Sent = runner.Owed.Count,
            Received = received,
            Lost = lost,
            Duplicated = duplicated,
            OutOfOrder = outOfOrder,
            Violations = (int)(runner.Tally.Tried - runner.Tally.Documented) + (health == 200 ? 0 : 1),
            InputsTried = runner.Tally.Tried,
            DocumentedAnswers = runner.Tally.Documented,
            Notes = $"CsCheck: {sessions} sessions, {runner.Frames} frames in {elapsed.TotalSeconds:0.0} s; a bystander got every message the fuzz owed it",
        });
        runner.Tally.AssertAllDocumented();
        Assert.Equal((0L, 0L, 0L), (lost, duplicated, outOfOrder));
        Assert.Equal(200, health);
        await bystander.AssertAliveAsync();
    }
}
