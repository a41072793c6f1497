using System.Security.Claims;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Upstream;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// docs/protocol.md §7, <c>event</c>: a node on a real redis-server stores the event in its client's partition with
/// who sent it taken from the connection, acknowledges <c>accepted</c> once stored, and refuses clearly when it cannot
/// store it (no handler, no Redis, a full partition, Redis away).
/// </summary>
public sealed class UpstreamEventTests : IAsyncLifetime
{
    private const string Key = "first-signing-key-of-at-least-32-characters";
    private static readonly byte[] JwtKey = System.Text.Encoding.UTF8.GetBytes("a-test-signing-key-for-hs256-of-32-bytes-at-least");

    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task AnEventIsStoredWithWhoSentItFromTheConnectionAndAckedAccepted()
    {
        await using var node = await StartAsync(("Auth:Jwt:SigningKey", Convert.ToBase64String(JwtKey)), ("Auth:Jwt:Audience", "api://test"), ("Auth:Jwt:Issuer", "https://issuer.test"));
        await using var alice = await TestClient.ConnectAsync(node, $"clientId=alice&access_token={Token("user-1")}");

        // Fields a client adds cannot change who the handler hears it from.
        await alice.SendAsync("""{"type":"event","event":"saved","data":{"n":1,"clientId":"mallory"},"id":"e1","clientId":"mallory","userId":"root","serverId":"x"}""");
        await alice.SendAsync("""{"type":"event","event":"saved","data":2}""");
        await alice.SendAsync("""{"type":"event","event":"saved","data":3,"id":3}""");

        var first = await alice.ReceiveAsync();
        Assert.Equal(("ack", "e1", "accepted"), (first.Type(), first.GetProperty("id").GetString(), first.GetProperty("status").GetString()));
        // The event without an id is stored without an answer: the next frame is the third event's ack.
        var third = await alice.ReceiveAsync();
        Assert.Equal(("ack", "3", "accepted"), (third.Type(), third.GetProperty("id").GetRawText(), third.GetProperty("status").GetString()));
        var stored = await ReadAsync(node, "alice");
        Assert.Equal(["""{"n":1,"clientId":"mallory"}""", "2", "3"], stored.Select(r => System.Text.Encoding.UTF8.GetString(r.Data)));
        Assert.All(stored, r => Assert.Equal((UpstreamKind.User, "saved", "alice", "user-1", node.ServerId), (r.Kind, r.Event, r.ClientId, r.UserId, r.ServerId)));
        Assert.Equal(3, stored.Select(r => r.CeId).Distinct().Count());
        Assert.All(stored, r => Assert.True(Math.Abs((DateTimeOffset.UtcNow - r.Time).TotalMinutes) < 1));
    }

    [Fact]
    public async Task AFullPartitionAnswersUpstreamBusyWithTheIdAndStoresNothingMore()
    {
        await using var node = await StartAsync(("Upstream:Partitions", 1), ("Upstream:StreamMaxLength", 2));
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        for (var i = 1; i <= 3; i++)
        {
            await alice.SendAsync($$"""{"type":"event","event":"saved","data":{{i}},"id":{{i}}}""");
        }

        Assert.Equal("accepted", (await alice.ReceiveAsync()).GetProperty("status").GetString());
        Assert.Equal("accepted", (await alice.ReceiveAsync()).GetProperty("status").GetString());
        var refused = await alice.ReceiveAsync();
        Assert.Equal(("error", "upstream-busy", "3"), (refused.Type(), refused.GetProperty("code").GetString(), refused.GetProperty("id").GetRawText()));
        Assert.Equal(["1", "2"], (await ReadAsync(node, "alice")).Select(r => System.Text.Encoding.UTF8.GetString(r.Data)));
        await alice.AssertAliveAsync();
    }

    [Fact]
    public async Task WithRedisAwayAnEventIsAnsweredUnavailableAndTheSocketStaysOpen()
    {
        await using var node = await StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await _redis.StopAsync();
        await alice.SendAsync("""{"type":"event","event":"saved","data":1,"id":"e"}""");

        var error = await alice.ReceiveOfTypeAsync("error");
        Assert.Equal(("unavailable", "e"), (error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
        await alice.AssertAliveAsync();
    }

    [Fact]
    public async Task EmbeddedWithAHandlerAnEventIsNotConfiguredAndSaysWhy()
    {
        var settings = Settings.Of(("Upstream:Url", "http://127.0.0.1:9/handler"));
        settings["Upstream:SigningKeys:0"] = Key;
        await using var node = await WsNode.StartAsync(settings);
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"event","event":"saved","data":1,"id":"e"}""");

        var error = await alice.ReceiveOfTypeAsync("error");
        Assert.Equal(("not-configured", "e"), (error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
        Assert.Contains("Redis", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnRedisWithoutAHandlerAnEventIsNotConfiguredAndNothingIsStored()
    {
        await using var node = await WsNode.StartOnRedisAsync(_redis, "n1");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"event","event":"saved","data":1,"id":"e"}""");

        Assert.Equal("not-configured", (await alice.ReceiveOfTypeAsync("error")).GetProperty("code").GetString());
        Assert.Empty(await ReadAsync(node, "alice"));
    }

    [Fact]
    public async Task EventsCountAgainstTheSendBudget()
    {
        await using var node = await StartAsync(("Ws:SendBytesPerSecond", 1024));
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        var data = "\"" + new string('x', 1500) + "\"";

        for (var i = 1; i <= 3; i++)
        {
            await alice.SendAsync($$"""{"type":"event","event":"saved","data":{{data}},"id":{{i}}}""");
        }

        // Bursts of twice the rate: the second spends what is left, the third finds it spent.
        Assert.Equal("accepted", (await alice.ReceiveAsync()).GetProperty("status").GetString());
        Assert.Equal("accepted", (await alice.ReceiveAsync()).GetProperty("status").GetString());
        var refused = await alice.ReceiveAsync();
        Assert.Equal(("rate-limited", "3"), (refused.GetProperty("code").GetString(), refused.GetProperty("id").GetRawText()));
        Assert.Equal(2, (await ReadAsync(node, "alice")).Length);
    }

    private Task<WsNode> StartAsync(params (string Key, object Value)[] settings) =>
        WsNode.StartOnRedisAsync(_redis, "n1", [("Upstream:Url", "http://127.0.0.1:9/handler"), ("Upstream:SigningKeys:0", Key), .. settings]);

    /// <summary>What the node stored for <paramref name="clientId"/>, read as the dispatcher reads it.</summary>
    private static async Task<UpstreamRecord[]> ReadAsync(WsNode node, string clientId)
    {
        var log = node.Services.GetRequiredService<UpstreamEventLog>();
        var entries = await log.ReadNewAsync(UpstreamEventLog.PartitionOf(clientId, log.Partitions), "test", 100);
        return entries.Select(e => e.Record!).Where(r => r.ClientId == clientId).ToArray();
    }

    private static string Token(string subject) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", subject)]),
            Audience = "api://test",
            Issuer = "https://issuer.test",
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(JwtKey), SecurityAlgorithms.HmacSha256),
        });
}
