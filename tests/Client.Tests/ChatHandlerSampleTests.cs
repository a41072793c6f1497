using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Samples.ChatHandler;

namespace ServerlessWs.Client.Tests;

/// <summary>
/// samples/ChatHandler as it ships, on loopback, called by a real WsApp node (<c>Upstream:Url</c> pointing at it) and
/// replying through the typed admin client to the admin API (<see cref="AdminApiServer"/>) on the same redis-server.
/// The durable <c>event</c> path is not built on this branch (an <c>event</c> frame is answered
/// <c>not-configured</c>), so the reply through the admin client is shown with <c>invoke</c>; the sample answers a
/// <c>serverlessws.user.chat</c> call the same way whichever frame it came from.
/// </summary>
public sealed class ChatHandlerSampleTests
{
    private const string Key = "the-sample-signing-key-of-at-least-32-characters";

    private static readonly DateTimeOffset Now = new(2026, 12, 6, 19, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task AClientsInvokeOfTimeGetsTheSamplesAnswer()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var sample = await StartSampleAsync(env.Server.BaseAddress);
        await using var node = await StartNodeAsync(env, sample, Key);
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"invoke","event":"time","data":null,"id":"t"}""");

        var result = await alice.ReceiveAsync();
        Assert.Equal(("result", "t"), (result.Type(), result.GetProperty("id").GetString()));
        var data = result.GetProperty("data");
        Assert.Equal((Now, "alice"), (data.GetProperty("utc").GetDateTimeOffset(), data.GetProperty("clientId").GetString()));
    }

    [Fact]
    public async Task AChatLineIsAnsweredAndItsReplyReachesTheClientThroughTheAdminApi()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var sample = await StartSampleAsync(env.Server.BaseAddress);
        await using var node = await StartNodeAsync(env, sample, Key);
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"invoke","event":"chat","data":{"text":"hello"},"id":"c"}""");

        // The reply is sent while the handler still answers the invoke: either may come first.
        var frames = new[] { await alice.ReceiveAsync(), await alice.ReceiveAsync() }.ToDictionary(f => f.Type());
        Assert.Equal("""{"posted":"delivered"}""", frames["result"].GetProperty("data").GetRawText());
        var reply = frames["message"];
        Assert.Equal(("admin", "You said: hello"), (reply.GetProperty("from").GetString(), reply.GetProperty("data").GetProperty("text").GetString()));
        Assert.False(string.IsNullOrEmpty(reply.GetProperty("data").GetProperty("inReplyTo").GetString()));
        Assert.Equal(1, env.Server.Calls["SendToClient"]);
    }

    [Fact]
    public async Task ACallSignedWithAKeyTheSampleDoesNotKnowIs401AndNothingIsPosted()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var sample = await StartSampleAsync(env.Server.BaseAddress);
        await using var node = await StartNodeAsync(env, sample, "a-key-the-sample-does-not-know-of-32-characters");
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"invoke","event":"chat","data":{"text":"hello"},"id":"c"}""");

        var error = await alice.ReceiveAsync();
        Assert.Equal(("error", "upstream-failed", "c"), (error.Type(), error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
        Assert.Empty(env.Server.Calls);
        await alice.AssertAliveAsync();

        // Straight to the sample: no signature, and one over another body, are both 401.
        using var http = new HttpClient { BaseAddress = new Uri(Loopback.AddressOf(sample)) };
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(http, """{"text":"hi"}""", signedBody: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(http, """{"text":"hi"}""", signedBody: """{"text":"other"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(http, """{"text":"other"}""", signedBody: """{"text":"other"}""", type: "serverlessws.user.time")).StatusCode);
    }

    [Fact]
    public async Task ABodyOverTheLimitIs413AndAnUnknownEventIs404()
    {
        await using var env = await AdminEnvironment.StartAsync();
        await using var sample = await StartSampleAsync(env.Server.BaseAddress, ("Handler:MaxBodyBytes", "64"));
        using var http = new HttpClient { BaseAddress = new Uri(Loopback.AddressOf(sample)) };
        var large = $$"""{"text":"{{new string('x', 60)}}"}""";
        var small = """{"text":"hi"}""";

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await PostAsync(http, large, signedBody: large)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(http, small, signedBody: small, type: "serverlessws.user.nothing")).StatusCode);
    }

    [Theory]
    [InlineData("Handler:SigningKeys:0", "", "Handler:SigningKeys")]
    [InlineData("Admin:BaseAddress", "api/", "BaseAddress")]
    public async Task TheSampleRefusesToStartConfiguredWrongWithAMessageThatNamesTheKey(string key, string value, string named)
    {
        var settings = Settings(new Uri("http://127.0.0.1:1/api/"));
        settings[key] = value;
        if (value.Length == 0)
        {
            settings.Remove(key);
        }

        var app = ChatHandlerApp.Build(["--urls", "http://127.0.0.1:0"], builder => builder.Configuration.AddInMemoryCollection(settings));
        await using var _ = app;

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> Settings(Uri adminBase) => new()
    {
        ["Handler:SigningKeys:0"] = Key,
        ["Admin:BaseAddress"] = adminBase.ToString(),
        ["Admin:FunctionKey"] = AdminApiServer.FunctionKey,
    };

    private static async Task<WebApplication> StartSampleAsync(Uri adminBase, params (string Key, string Value)[] extra)
    {
        var settings = Settings(adminBase);
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        var app = ChatHandlerApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        });
        await app.StartAsync();
        return app;
    }

    private static Task<WsNode> StartNodeAsync(AdminEnvironment env, WebApplication sample, string signingKey) =>
        WsNode.StartOnRedisAsync(
            env.Functions.Redis,
            "n1",
            ("Upstream:Url", Loopback.AddressOf(sample) + ChatHandlerApp.Route),
            ("Upstream:SigningKeys:0", signingKey));

    /// <summary>
    /// A call straight to the sample, with the attributes a node sends (sent now), signed with <see cref="Key"/> over
    /// them and <paramref name="signedBody"/> (which may differ from the body sent); unsigned when that is null.
    /// </summary>
    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string body, string? signedBody, string type = "serverlessws.user.chat")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ChatHandlerApp.Route) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in new[]
        {
            ("ce-specversion", "1.0"), ("ce-id", "ce-1"), ("ce-type", type), ("ce-source", "/clients/alice"),
            ("ce-time", "2026-12-06T19:00:00.000Z"), ("ce-clientid", "alice"), ("ce-serverid", "n1"),
            (UpstreamSignature.TimestampHeader, DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)),
        })
        {
            request.Headers.Add(name, value);
        }

        if (signedBody is not null)
        {
            request.Headers.Add(UpstreamSignature.HeaderName, UpstreamSignature.Sign(
                [Key], name => request.Headers.TryGetValues(name, out var values) ? values.First() : null, Encoding.UTF8.GetBytes(signedBody)));
        }

        return await http.SendAsync(request);
    }
}
