using Azure.Core;
using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Redis;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>A WsApp node with <c>Redis:UseEntraId</c> works against a Redis that only knows the identity's token.</summary>
public sealed class EntraIdNodeTests
{
    private const string ObjectId = "0b7e6f4c-1111-4222-8333-444455556666";

    [Fact]
    public async Task ANodeAuthenticatesAsItsIdentityAndServesClients()
    {
        await using var redis = await RedisServer.StartAsync();
        var token = $"{Part("""{"alg":"none"}""")}.{Part($$"""{"oid":"{{ObjectId}}"}""")}.sig";
        using (var setup = await redis.ConnectAsync())
        {
            var server = setup.GetServers().Single();
            await server.ExecuteAsync("ACL", "SETUSER", ObjectId, "on", ">" + token, "~*", "&*", "+@all");
            await server.ExecuteAsync("ACL", "SETUSER", "default", "off");
        }

        await using var node = await WsNode.StartAsync(
            Settings.Of(("Redis:ConnectionString", redis.ConnectionString), ("Redis:UseEntraId", true), ("Ws:ServerId", "entra")),
            services: s => s.AddSingleton<TokenCredential>(new FixedCredential(token)));
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync(Frames.Send("alice", "1", id: "self"));

        // The ack and the message may come in either order.
        var frames = new[] { await alice.ReceiveAsync(), await alice.ReceiveAsync() };
        Assert.Contains(frames, f => f.Type() == "ack" && f.Status() == "delivered");
        Assert.Contains(frames, f => f.Type() == "message" && f.Seq() == 1);
    }

    private static string Part(string json) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed class FixedCredential(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
