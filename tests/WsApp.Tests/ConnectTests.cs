using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>docs/protocol.md §1 and §5a: the upgrade, the welcome frame, and every refusal before it.</summary>
public sealed partial class ConnectTests
{
    [Fact]
    public async Task AClientWithoutAnIdGetsAWelcomeWithAGeneratedLowercaseUuid()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:ServerId", "node-a")));
        await using var client = await TestClient.ConnectAsync(node);

        var welcome = client.Welcome;
        Assert.Matches(UuidPattern(), client.ClientId);
        Assert.True(client.ResumeToken.Length >= 22, "a token carries at least 128 bits");
        Assert.Equal("node-a", welcome.GetProperty("serverId").GetString());
        Assert.Equal(30, welcome.GetProperty("heartbeatSeconds").GetInt32());
        Assert.False(welcome.GetProperty("resumed").GetBoolean());
        Assert.Equal(0, welcome.GetProperty("replayed").GetInt32());
        Assert.True(welcome.GetProperty("recovered").GetBoolean());
    }

    [Fact]
    public async Task TwoClientsWithoutIdsGetDifferentIdsAndTokens()
    {
        await using var node = await WsNode.StartAsync();
        await using var a = await TestClient.ConnectAsync(node);
        await using var b = await TestClient.ConnectAsync(node);

        Assert.NotEqual(a.ClientId, b.ClientId);
        Assert.NotEqual(a.ResumeToken, b.ResumeToken);
    }

    [Fact]
    public async Task AClientIdFromTheQueryIsKept()
    {
        await using var node = await WsNode.StartAsync();
        var id = "Device_7.kitchen:sensor-" + new string('x', 104);
        await using var client = await TestClient.ConnectAsync(node, "clientId=" + Uri.EscapeDataString(id));

        Assert.Equal(128, id.Length);
        Assert.Equal(id, client.ClientId);
    }

    [Theory]
    [InlineData("clientId=")]
    [InlineData("clientId=has%20space")]
    [InlineData("clientId=with/slash")]
    [InlineData("clientId=brace%7Bc%7D")]
    [InlineData("clientId=a&clientId=b")]
    [InlineData("lastSeq=abc")]
    [InlineData("lastSeq=")]
    [InlineData("lastSeq=-1")]
    [InlineData("lastSeq=1e3")]
    [InlineData("lastSeq=1234567890123456")]
    public async Task AMalformedQueryIsRefusedWith400(string query)
    {
        await using var node = await WsNode.StartAsync();

        Assert.Equal(400, await TestClient.ConnectStatusAsync(node, query));
        // The node keeps serving others.
        await using var other = await TestClient.ConnectAsync(node);
        await other.AssertAliveAsync();
    }

    [Fact]
    public async Task AClientIdOf129CharactersIsRefusedWith400()
    {
        await using var node = await WsNode.StartAsync();

        Assert.Equal(400, await TestClient.ConnectStatusAsync(node, "clientId=" + new string('a', 129)));
    }

    [Fact]
    public async Task ALastSeqOf15DigitsIsAccepted()
    {
        await using var node = await WsNode.StartAsync();

        await using var client = await TestClient.ConnectAsync(node, "lastSeq=999999999999999");

        Assert.True(client.Welcome.GetProperty("recovered").GetBoolean(), "lastSeq is ignored on a connect that is not a resume");
    }

    [Fact]
    public async Task APlainHttpRequestToWsIsRefusedWith400()
    {
        await using var node = await WsNode.StartAsync();
        using var http = new HttpClient { BaseAddress = node.BaseUri };

        var response = await http.GetAsync("/ws");

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AnOriginOutsideTheAllowListIsRefusedWith403AndAMissingOriginIsAllowed()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:AllowedOrigins:0", "https://app.example")));

        Assert.Equal(403, await TestClient.ConnectStatusAsync(node, options: o => o.SetRequestHeader("Origin", "https://evil.example")));
        Assert.Equal(101, await TestClient.ConnectStatusAsync(node, options: o => o.SetRequestHeader("Origin", "https://APP.example")));
        Assert.Equal(101, await TestClient.ConnectStatusAsync(node));
    }

    [Fact]
    public async Task ConnectsAboveMaxConnectionsAreRefusedWith503()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:MaxConnections", 2)));
        await using var a = await TestClient.ConnectAsync(node);
        await using var b = await TestClient.ConnectAsync(node);

        Assert.Equal(503, await TestClient.ConnectStatusAsync(node));

        await a.CloseAsync();
        await Eventually.TrueAsync(async () => await TestClient.ConnectStatusAsync(node) == 101);
    }

    [Fact]
    public async Task ConnectsAboveThePerAddressRateAreRefusedWith429()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:ConnectsPerSecondPerAddress", 3)));

        // Ten at once: the bucket holds 3 and refills by 3 a second on the wall clock, at a phase of its own, so a
        // burst that a slow machine stretches over one refill may take 6; never all ten.
        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => TestClient.ConnectStatusAsync(node)));

        var accepted = statuses.Count(s => s == 101);
        Assert.InRange(accepted, 3, 6);
        Assert.Equal(10 - accepted, statuses.Count(s => s == 429));
    }

    [Fact]
    public async Task RefusalsComeInTheContractsOrder()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(
            ("Ws:AllowedOrigins:0", "https://app.example"),
            ("Ws:ConnectsPerSecondPerAddress", 1)));
        await using var owner = await TestClient.ConnectAsync(node, "clientId=taken");

        // Origin (403) before rate (429) before malformed (400) before token (401).
        Assert.Equal(403, await TestClient.ConnectStatusAsync(node, "clientId=", o => o.SetRequestHeader("Origin", "https://evil.example")));
        Assert.Equal(429, await TestClient.ConnectStatusAsync(node, "clientId="));
    }

    [Fact]
    public async Task AMalformedQueryIsCheckedBeforeTheToken()
    {
        await using var node = await WsNode.StartAsync();
        await using var owner = await TestClient.ConnectAsync(node, "clientId=taken");

        Assert.Equal(400, await TestClient.ConnectStatusAsync(node, "clientId=taken&lastSeq=x"));
        Assert.Equal(401, await TestClient.ConnectStatusAsync(node, "clientId=taken&lastSeq=1"));
    }

    [Fact]
    public async Task HealthEndpointsAnswer()
    {
        await using var node = await WsNode.StartAsync();
        using var http = new HttpClient { BaseAddress = node.BaseUri };

        Assert.Equal(200, (int)(await http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(200, (int)(await http.GetAsync("/readyz")).StatusCode);
    }

    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    private static partial Regex UuidPattern();
}
