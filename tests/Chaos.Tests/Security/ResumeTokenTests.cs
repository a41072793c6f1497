using System.Buffers.Text;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.Chaos.Tests.Security;

/// <summary>
/// Scenario 6, resume tokens (docs/protocol.md §1, §5a): 256 random bits, useless when guessed or presented for another
/// id, never written to a log at any level, and kept in Redis only as a hash.
/// </summary>
public sealed class ResumeTokenTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public void ATokenIs256RandomBitsAndNoTwoAreAlike()
    {
        var count = ChaosSettings.Pick(10_000, 200_000);
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var token = ResumeTokens.Create();
            Assert.Equal(32, Base64Url.DecodeFromChars(token).Length);
            Assert.True(tokens.Add(token), $"token {i} repeated an earlier one");
        }
    }

    [Fact]
    public async Task GuessedTokensAndAnotherIdsTokenAre401AndChangeNothing()
    {
        await using var node = await StartAsync();
        var store = node.Services.GetRequiredService<ISessionStore>();
        var alice = "alice-" + Guid.NewGuid().ToString("N");
        var bob = "bob-" + Guid.NewGuid().ToString("N");
        await using var a = await TestClient.ConnectAsync(node, $"clientId={alice}");
        await using var b = await TestClient.ConnectAsync(node, $"clientId={bob}");
        var before = await store.GetSessionAsync(alice, default);

        var tally = new Tally();
        // A variant can equal the token itself (standard base64 of one without '-' or '_'): that is no guess.
        foreach (var (what, guess) in Guesses(a.ResumeToken, b.ResumeToken, ChaosSettings.Pick(150, 2_000)).Where(g => g.Token != a.ResumeToken))
        {
            tally.Check(what, 401, await TestClient.ConnectStatusAsync(node, $"clientId={alice}&resumeToken={Uri.EscapeDataString(guess)}"));
        }

        tally.Check("alice's token for bob", 401, await TestClient.ConnectStatusAsync(node, $"clientId={bob}&resumeToken={a.ResumeToken}"));

        // Nothing moved: the same owner and epoch, both sockets still served, and no other claim was counted.
        Assert.Equal(before, await store.GetSessionAsync(alice, default));
        await a.AssertAliveAsync();
        await b.AssertAliveAsync();

        // The real token still works, so the 401s above were about the token and nothing else.
        await using var back = await TestClient.ConnectAsync(node, $"clientId={alice}&resumeToken={a.ResumeToken}");
        Assert.True(back.Welcome.GetProperty("resumed").GetBoolean());
        Assert.Equal((WebSocketCloseStatus)4000, await a.ReceiveCloseAsync());

        ReliabilityReport.Record(new ScenarioFigures("6a. security: resume token guessing")
        {
            Clients = 2,
            InputsTried = tally.Tried,
            DocumentedAnswers = tally.Documented,
            Violations = (int)(tally.Tried - tally.Documented),
            Notes = "random 256-bit tokens, one-character edits of the real one, another id's token: all 401, owner and epoch unchanged",
        });
        tally.AssertAllDocumented();
    }

    [Fact]
    public async Task NoTokenReachesALogAtAnyLevelAndRedisHoldsOnlyItsHash()
    {
        var logs = new CapturingLoggerProvider();
        await using var node = await StartAsync(logs);
        var ids = Enumerable.Range(0, 4).Select(i => $"keeper{i}-{Guid.NewGuid():N}").ToArray();
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            await using var first = await TestClient.ConnectAsync(node, $"clientId={id}");
            tokens[id] = first.ResumeToken;
            await first.SendAsync(Frames.Send(ids[0], "\"hello\"", id: "s"));
            await first.ReceiveOfTypeAsync("ack");
        }

        // Every path a token takes: a resume, a takeover, a wrong token, a token on a fresh id, closes and releases.
        await using (var resumed = await TestClient.ConnectAsync(node, $"clientId={ids[0]}&resumeToken={tokens[ids[0]]}&lastSeq=0"))
        {
            await using var takeover = await TestClient.ConnectAsync(node, $"clientId={ids[0]}&resumeToken={tokens[ids[0]]}");
            Assert.Equal(401, await TestClient.ConnectStatusAsync(node, $"clientId={ids[1]}&resumeToken={tokens[ids[0]]}"));
            await using var fresh = await TestClient.ConnectAsync(node, $"clientId=fresh-{Guid.NewGuid():N}&resumeToken={tokens[ids[2]]}");
            tokens[fresh.ClientId] = fresh.ResumeToken;
        }

        var db = redis.Client.GetDatabase();
        await Eventually.TrueAsync(async () => (await db.HashGetAsync(RedisKeys.Owner(ids[0]), "server")).IsNullOrEmpty, because: "the last socket's release");

        // The capture works at every level: the connects were logged at Debug with their ids.
        Assert.Contains(logs.Entries, e => e.Contains(ids[0], StringComparison.Ordinal) && e.StartsWith("Debug", StringComparison.Ordinal));
        var dump = await DumpAsync(redis.Client);
        var tally = new Tally();
        foreach (var (id, token) in tokens)
        {
            tally.Check($"logs of {id}", 0, logs.Entries.Count(e => e.Contains(token, StringComparison.Ordinal)));
            tally.Check($"redis of {id}", 0, dump.Count(v => v.Contains(token, StringComparison.Ordinal)));
            tally.Check($"hash of {id}", true, ((byte[]?)await db.HashGetAsync(RedisKeys.Owner(id), "tokenHash"))?.SequenceEqual(ResumeTokens.Hash(token)) == true);
        }

        ReliabilityReport.Record(new ScenarioFigures("6b. security: tokens in logs and Redis")
        {
            Clients = tokens.Count,
            InputsTried = tally.Tried,
            DocumentedAnswers = tally.Documented,
            Violations = (int)(tally.Tried - tally.Documented),
            Notes = $"{logs.Entries.Count} log entries at Trace and {dump.Count} Redis values searched for each raw token; only SHA-256 hashes stored",
        });
        tally.AssertAllDocumented();
    }

    private Task<WsNode> StartAsync(CapturingLoggerProvider? logs = null) =>
        WsNode.StartAsync(
            Settings.Of(
                ("Redis:ConnectionString", redis.ConnectionString),
                ("Ws:ServerId", "sec-" + Guid.NewGuid().ToString("N")[..8]),
                ("Logging:LogLevel:Default", "Trace"),
                ("Logging:LogLevel:Microsoft", "Trace"),
                ("Logging:LogLevel:Microsoft.AspNetCore", "Trace")),
            services: logs is null ? null : s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)));

    /// <summary>Tokens that are not alice's: random ones of the same shape, edits of hers, and bob's.</summary>
    private static IEnumerable<(string What, string Token)> Guesses(string real, string others, int randomCount)
    {
        for (var i = 0; i < randomCount; i++)
        {
            yield return ("random 256 bits", ResumeTokens.Create());
        }

        for (var i = 0; i < real.Length; i++)
        {
            var edited = real.ToCharArray();
            edited[i] = edited[i] == 'A' ? 'B' : 'A';
            yield return ($"edit at {i}", new string(edited));
        }

        yield return ("truncated", real[..^1]);
        yield return ("one more character", real + "A");
        yield return ("padded", real + "=");
        yield return ("upper case", real.ToUpperInvariant());
        yield return ("standard base64", real.Replace('-', '+').Replace('_', '/'));
        yield return ("the hash of the token", Convert.ToHexString(ResumeTokens.Hash(real)));
        yield return ("empty", string.Empty);
        yield return ("bob's token", others);
    }

    /// <summary>Every value in the Redis database as text: strings, hash fields, set and sorted set members, list items, stream entries.</summary>
    private static async Task<List<string>> DumpAsync(ConnectionMultiplexer client)
    {
        var db = client.GetDatabase();
        var values = new List<string>();
        foreach (var key in client.GetServers().Single().Keys(pattern: "*"))
        {
            values.Add(key.ToString());
            switch (await db.KeyTypeAsync(key))
            {
                case RedisType.String: values.Add(Text(await db.StringGetAsync(key))); break;
                case RedisType.Hash: values.AddRange((await db.HashGetAllAsync(key)).SelectMany(e => new[] { Text(e.Name), Text(e.Value) })); break;
                case RedisType.Set: values.AddRange((await db.SetMembersAsync(key)).Select(Text)); break;
                case RedisType.SortedSet: values.AddRange((await db.SortedSetRangeByRankAsync(key)).Select(Text)); break;
                case RedisType.List: values.AddRange((await db.ListRangeAsync(key)).Select(Text)); break;
                case RedisType.Stream:
                    values.AddRange((await db.StreamRangeAsync(key)).SelectMany(e => e.Values).SelectMany(v => new[] { Text(v.Name), Text(v.Value) }));
                    break;
            }
        }

        return values;
    }

    // Binary values (hashes, packed log entries) are read as Latin-1, so a token embedded in any bytes shows up as text.
    private static string Text(RedisValue value) => value.IsNull ? string.Empty : Encoding.Latin1.GetString((byte[])value!);
}
