using System.Net.WebSockets;
using System.Text.Json;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;
using ServerlessWs.Chaos.Tests.Security;
using ServerlessWs.Core.Options;
using ServerlessWs.Functions.Admin;
using ServerlessWs.Functions.Tests;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>
/// Scenario 5, hostile input on the admin API (docs/protocol.md §6): CsCheck generates requests to every admin route
/// (route values valid, unknown, huge or garbled; paging queries of the wrong type, range or count; bodies of random
/// shape, invalid, empty, invalid UTF-8, nested or sized around the limits) and calls the function each route maps to,
/// as the Functions host would, on a real Redis with a real node and real clients. Each request must get exactly its
/// documented status (problem+json for errors, never a 500 or an exception), the victim client must be closed with
/// 4001 exactly when a DELETE names it, and the bystander must receive every message the fuzz owed it, once, in order,
/// and nothing else. A failure prints CsCheck's seed; <c>CsCheck_Seed=…</c> replays it.
/// </summary>
/// <remarks>The host's own routing (a method or path no function has) is not exercised: <c>func</c> is not installed here.</remarks>
public sealed class AdminApiFuzzTests
{
    private const int MaxMessageBytes = 2048;

    [Fact]
    public async Task EveryRandomAdminRequestGetsItsDocumentedAnswerAndTheBystanderMissesNothing()
    {
        await using var f = await FunctionsHarness.StartAsync(new WsOptions { MaxMessageBytes = MaxMessageBytes });
        await using var node = await WsNode.StartOnRedisAsync(f.Redis, AdminOracle.ServerId, ("Ws:HeartbeatSeconds", 600), ("Ws:SessionTtlSeconds", 3600));
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (bystanderId, victimId, group) = ("bystander-" + suffix, "victim-" + suffix, "news-" + suffix);
        await using var bystander = await TestClient.ConnectAsync(node, $"clientId={bystanderId}");
        await bystander.SendAsync(Frames.Join(group, id: "j"));
        Assert.Equal("ok", (await bystander.ReceiveAsync()).Status());
        var victim = new Victim(node, await TestClient.ConnectAsync(node, $"clientId={victimId}"));
        await using var _ = victim;
        // The broadcast walks the reconciler's index of connected clients.
        await f.ReconcileAllAsync();

        var runner = new Runner(f, new AdminOracle(bystanderId, victimId, group, MaxMessageBytes), victim);
        var requests = ChaosSettings.Pick(400, 5_000);
        var started = DateTime.UtcNow;
        try
        {
            await new AdminGen(bystanderId, victimId, group, MaxMessageBytes).Input.SampleAsync(runner.RunAsync, iter: requests, threads: 1);
        }
        catch (CsCheckException e)
        {
            // CsCheck reports the smallest failing input it shrank to; on shared state the first one is the clue.
            Assert.Fail($"{e.Message}\n{e.InnerException?.Message}\nFirst wrong answers, in order:\n{string.Join("\n", runner.Tally.Wrong)}");
        }

        var elapsed = DateTime.UtcNow - started;

        var (received, lost, duplicated, outOfOrder) = await Bystander.CheckAsync(bystander, runner.Owed);
        ReliabilityReport.Record(new ScenarioFigures("5b. hostile input: admin API")
        {
            Clients = 2,
            Sent = runner.Owed.Count,
            Received = received,
            Lost = lost,
            Duplicated = duplicated,
            OutOfOrder = outOfOrder,
            Violations = (int)(runner.Tally.Tried - runner.Tally.Documented),
            InputsTried = runner.Tally.Tried,
            DocumentedAnswers = runner.Tally.Documented,
            Notes = $"CsCheck: {requests} requests to the 8 admin functions in {elapsed.TotalSeconds:0.0} s ({runner.Kicks} closes of a victim with 4001); a bystander got every message owed",
        });
        runner.Tally.AssertAllDocumented();
        Assert.Equal((0L, 0L, 0L), (lost, duplicated, outOfOrder));
        await bystander.AssertAliveAsync();
    }

    /// <summary>The client an admin may close: after each 4001 it resumes, so it is connected for every request.</summary>
    private sealed class Victim(WsNode node, TestClient client) : IAsyncDisposable
    {
        public TestClient Client { get; private set; } = client;

        /// <summary>The close code the client saw, then a resume with its token (asserted by the welcome).</summary>
        public async Task<WebSocketCloseStatus?> ClosedThenResumedAsync()
        {
            var code = await Client.ReceiveCloseAsync();
            var (id, token) = (Client.ClientId, Client.ResumeToken);
            await Client.DisposeAsync();
            Client = await TestClient.ConnectAsync(node, $"clientId={id}&resumeToken={token}");
            Assert.True(Client.Welcome.GetProperty("resumed").GetBoolean());
            return code;
        }

        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }

    /// <summary>Plays one request and compares its answer with the oracle's; throws (so CsCheck prints the seed) on a difference.</summary>
    private sealed class Runner(FunctionsHarness f, AdminOracle oracle, Victim victim)
    {
        public Tally Tally { get; } = new();

        public List<Delivery> Owed { get; } = [];

        public int Kicks { get; private set; }

        public async Task RunAsync(AdminInput input)
        {
            var expected = oracle.Predict(input);
            var actual = await CallAsync(input, expected);
            if (expected.ClosesVictim && actual == expected.Answer)
            {
                Kicks++;
                try
                {
                    var code = await victim.ClosedThenResumedAsync();
                    actual += code == (WebSocketCloseStatus)Core.Protocol.CloseCodes.ClosedByAdmin ? string.Empty : $" but the victim saw {code?.ToString() ?? "an abort"}";
                }
                catch (Exception e)
                {
                    actual += $" but the victim failed: {e.GetType().Name}: {e.Message}";
                }
            }

            Tally.Check(input.ToString(), expected.Answer, actual);
            if (actual != expected.Answer)
            {
                throw new InvalidOperationException($"{input}: expected {expected.Answer}, got {actual}");
            }

            if (expected.ToBystander is { } delivery)
            {
                Owed.Add(delivery);
            }
        }

        private async Task<string> CallAsync(AdminInput input, AdminAnswer expected)
        {
            var request = Request(input);
            var value = input.RouteValue!;
            try
            {
                var result = input.Route switch
                {
                    AdminRoute.ListServers => await f.Fleet.ListServers(request),
                    AdminRoute.GetStats => await f.Fleet.GetStats(request),
                    AdminRoute.GetClient => await f.Clients.Get(request, value),
                    AdminRoute.ListClients => await f.Clients.List(request),
                    AdminRoute.CloseClient => await f.Clients.Close(request, value),
                    AdminRoute.SendToClient => await f.Messages.SendToClient(request, value),
                    AdminRoute.SendToGroup => await f.Messages.SendToGroup(request, value),
                    _ => await f.Messages.Broadcast(request),
                };
                return Describe(result, expected.Answer);
            }
            catch (Exception e)
            {
                return $"exception {e.GetType().Name}: {e.Message}";
            }
        }

        private static HttpRequest Request(AdminInput input)
        {
            var http = new DefaultHttpContext();
            http.Request.Method = input.Method;
            http.Request.QueryString = new QueryString(input.Query);
            if (input.Body is { } body)
            {
                http.Request.Body = new MemoryStream(body);
                http.Request.ContentLength = input.DeclaresLength ? body.Length : null;
            }

            return http.Request;
        }

        /// <summary>The answer in the oracle's words: status, and for errors whether the body is problem+json.</summary>
        private static string Describe(IActionResult result, string expected)
        {
            if (result is not ObjectResult { StatusCode: var code } o)
            {
                return $"{result.GetType().Name}";
            }

            var status = code ?? 200;
            if (status >= 400)
            {
                return o.Value is ProblemDetails p && p.Status == status && !string.IsNullOrEmpty(p.Title) && o.ContentTypes.Contains("application/problem+json")
                    ? $"{status} problem"
                    : $"{status} without problem+json";
            }

            return o.Value switch
            {
                IReadOnlyList<ServerView> servers => $"{status} servers [{string.Join(",", servers.Select(s => s.Id))}]",
                StatsView stats when stats.Servers >= 1 => $"{status} stats",
                ClientView client when client.Connected && client.Server == AdminOracle.ServerId => $"{status} client {client.ClientId} connected",
                ClientPage page when expected.StartsWith($"{status} page of at most ", StringComparison.Ordinal)
                    && page.Items.Count <= int.Parse(expected.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture) => expected,
                SendResult { Status: var s, Recipients: null } => $"{status} {s}",
                SendResult { Status: var s, Recipients: var n } => $"{status} {s} to {n}",
                null when status == 202 => "202",
                var other => $"{status} {JsonSerializer.Serialize(other)}",
            };
        }
    }
}
