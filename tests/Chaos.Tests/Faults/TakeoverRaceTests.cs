using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using ServerlessWs.Chaos.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;
using ServerlessWs.Core.Redis;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Faults;

/// <summary>
/// Scenario 3: the same ids claimed (with their valid tokens) from different node processes at random instants,
/// round after round. After each round exactly one socket per id may be open, on the server Redis names; every
/// other contender must have been closed with 4000.
/// </summary>
public sealed class TakeoverRaceTests
{
    [Fact]
    public async Task Racing_claims_leave_exactly_one_socket_per_id_on_the_owner_named_in_Redis()
    {
        var ids = ChaosSettings.Pick(200, 1000);
        var rounds = ChaosSettings.Pick(10, 100);
        await using var cluster = await ChaosCluster.StartAsync(nodes: 3);
        var survivors = new Dictionary<string, Contender>(StringComparer.Ordinal);
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in Enumerable.Range(0, ids).Select(i => string.Create(CultureInfo.InvariantCulture, $"race-{i:D4}")))
        {
            var first = await Contender.ConnectAsync(cluster.PickNode(), $"clientId={id}");
            survivors[id] = first;
            tokens[id] = first.ResumeToken;
        }

        var claims = (long)ids;
        var violations = new List<string>();
        var losers = new List<Contender>();
        for (var round = 0; round < rounds; round++)
        {
            var racing = tokens.Select(async pair =>
            {
                var contenders = await Task.WhenAll(Enumerable.Range(0, Random.Shared.Next(2, 4)).Select(async _ =>
                {
                    await Task.Delay(Random.Shared.Next(0, 25));
                    return await Contender.ConnectAsync(cluster.Nodes[Random.Shared.Next(cluster.Nodes.Count)], $"clientId={pair.Key}&resumeToken={pair.Value}");
                }));
                return (Id: pair.Key, Contenders: contenders);
            });
            var results = await Task.WhenAll(racing);
            claims += results.Sum(r => r.Contenders.Length);

            var everyone = results.SelectMany(r => r.Contenders.Append(survivors[r.Id]).Select(c => (r.Id, Contender: c))).ToList();
            await Eventually.WithinAsync(() => everyone.GroupBy(e => e.Id).All(g => g.Count(e => e.Contender.IsOpen) == 1), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
            foreach (var group in everyone.GroupBy(e => e.Id, e => e.Contender))
            {
                var open = group.Where(c => c.IsOpen).ToList();
                if (open.Count != 1)
                {
                    violations.Add($"round {round}, {group.Key}: {open.Count} open sockets");
                    continue;
                }

                var owner = (string?)await cluster.Db.HashGetAsync(RedisKeys.Owner(group.Key), "server");
                if (owner != open[0].ServerId)
                {
                    violations.Add($"round {round}, {group.Key}: Redis names {owner}, the open socket is on {open[0].ServerId}");
                }

                foreach (var loser in group.Where(c => !c.IsOpen))
                {
                    if (await loser.CloseCode != "4000")
                    {
                        violations.Add($"round {round}, {group.Key}: a loser closed with {await loser.CloseCode}, not 4000");
                    }

                    losers.Add(loser);
                }

                survivors[group.Key] = open[0];
            }

            // The losers' TCP connections end once their close handshakes finish.
            var held = 0;
            await Eventually.WithinAsync(() => (held = cluster.Nodes.Sum(n => EstablishedSockets.OnPort(n.Port))) == ids, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));

            if (held != ids)
            {
                violations.Add($"round {round}: the nodes hold {held} sockets for {ids} ids");
            }
        }

        ReliabilityReport.Record(new ScenarioFigures("3. takeover races")
        {
            Clients = ids,
            Violations = violations.Count,
            InputsTried = claims,
            Notes = $"{rounds} rounds; each round 2-3 claims per id with its token, each at a random instant (0-25 ms) on a random one of 3 node processes",
        });
        foreach (var contender in survivors.Values.Concat(losers))
        {
            await contender.DisposeAsync();
        }

        Assert.Empty(violations);
        Assert.True(claims > ids * rounds * 2, "the races did not run");
    }

    /// <summary>One claim: a socket that reads its welcome, then reads until the server closes it.</summary>
    private sealed class Contender : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket;

        private Contender(ClientWebSocket socket, JsonElement welcome)
        {
            _socket = socket;
            ResumeToken = welcome.GetProperty("resumeToken").GetString()!;
            ServerId = welcome.GetProperty("serverId").GetString()!;
            CloseCode = ReadUntilClosedAsync();
        }

        public string ResumeToken { get; }

        public string ServerId { get; }

        /// <summary>The close code the server sent, or "abort".</summary>
        public Task<string> CloseCode { get; }

        public bool IsOpen => !CloseCode.IsCompleted;

        public static async Task<Contender> ConnectAsync(NodeProcess node, string query)
        {
            var socket = new ClientWebSocket();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(node.WsUri(query), timeout.Token);
            var buffer = new byte[4096];
            var result = await socket.ReceiveAsync(buffer, timeout.Token);
            using var welcome = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
            return new Contender(socket, welcome.RootElement.Clone());
        }

        public async ValueTask DisposeAsync()
        {
            _socket.Abort();
            await CloseCode;
            _socket.Dispose();
        }

        private async Task<string> ReadUntilClosedAsync()
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                        return ((int?)_socket.CloseStatus)?.ToString(CultureInfo.InvariantCulture) ?? "none";
                    }
                }
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
            {
                return "abort";
            }
        }
    }
}
