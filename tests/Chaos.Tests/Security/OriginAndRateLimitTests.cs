using System.Net;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;

namespace ServerlessWs.Chaos.Tests.Security;

/// <summary>
/// Scenario 6, refusals before the upgrade (docs/protocol.md §1, §5a): an origin outside <c>Ws:AllowedOrigins</c> is 403,
/// connects above <c>Ws:ConnectsPerSecondPerAddress</c> are 429 for that address only, in the contract's order.
/// </summary>
public sealed class OriginAndRateLimitTests
{
    private static readonly IPAddress Other = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task OnlyAllowedOriginsConnectAndEveryOtherOriginIs403()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(
            ("Ws:AllowedOrigins:0", "https://app.example"),
            ("Ws:AllowedOrigins:1", "http://localhost:5173")));
        await using var bystander = await TestClient.ConnectAsync(node);
        var tally = new Tally();
        (string? Origin, int Status)[] cases =
        [
            (null, 101),
            ("https://app.example", 101),
            ("HTTPS://APP.EXAMPLE", 101),
            ("http://localhost:5173", 101),
            ("https://evil.example", 403),
            ("https://app.example.evil.example", 403),
            ("https://evil.example/https://app.example", 403),
            ("http://app.example", 403),
            ("https://app.example:443", 403),
            ("https://app.example/", 403),
            ("http://localhost:5174", 403),
            ("null", 403),
            ("*", 403),
        ];

        foreach (var (origin, status) in cases)
        {
            var (actual, contentType) = await ConnectAttempt.RunAsync(node, origin: origin);
            tally.Check($"Origin {origin ?? "(none)"}", status, actual);
            if (status != 101)
            {
                tally.Check($"Origin {origin} body", "application/problem+json", contentType);
            }
        }

        // 403 comes before 400: a malformed query from a refused origin is still a 403.
        tally.Check("refused origin with a bad clientId", 403, (await ConnectAttempt.RunAsync(node, "clientId=a%20b", origin: "https://evil.example")).Status);
        await bystander.AssertAliveAsync();

        tally.Record("6c. security: origin allow-list", "allowed, case variants, look-alike and null origins; 403 before 400");
        tally.AssertAllDocumented();
    }

    [Fact]
    public async Task ConnectsAboveTheRateAre429ForThatAddressOnly()
    {
        const int perSecond = 3;
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:ConnectsPerSecondPerAddress", perSecond)));
        var tally = new Tally();
        var attempts = ChaosSettings.Pick(12, 60);

        var started = DateTime.UtcNow;
        var statuses = new List<int>();
        for (var i = 0; i < attempts; i++)
        {
            statuses.Add((await ConnectAttempt.RunAsync(node)).Status);
        }

        var elapsed = DateTime.UtcNow - started;
        foreach (var status in statuses)
        {
            tally.Check("connect from 127.0.0.1", true, status is 101 or 429);
        }

        // The bucket holds perSecond and refills perSecond each second, so accepted connects are bounded by time.
        var allowed = perSecond * (1 + (int)Math.Ceiling(elapsed.TotalSeconds));
        tally.Check($"accepted within {elapsed.TotalSeconds:0.0} s", true, statuses.Count(s => s == 101) is > 0 and var accepted && accepted <= allowed);
        tally.Check("some refused", true, statuses.Contains(429));

        // The limit is per address: 127.0.0.2 still gets in, and its refusals answer 429 before 400.
        tally.Check("first connect from 127.0.0.2", 101, (await ConnectAttempt.RunAsync(node, from: Other)).Status);
        var (refusal, body) = await ConnectAttempt.RunAsync(node, "clientId=", from: IPAddress.Loopback);
        tally.Check("bad clientId from the limited address", 429, refusal);
        tally.Check("429 body", "application/problem+json", body);

        tally.Record("6d. security: connect rate per address", $"{attempts} connects from 127.0.0.1 at {perSecond}/s, one from 127.0.0.2; 429 before 400");
        tally.AssertAllDocumented();
    }

}
