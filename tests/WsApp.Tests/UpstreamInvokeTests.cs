using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Client;
using ServerlessWs.Core.Telemetry;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.App.Tests;

/// <summary>
/// docs/protocol.md §7, <c>invoke</c>: a node calls the application's handler (a real HTTP server on loopback) with a
/// signed CloudEvents request whose attributes come from the connection, and answers <c>result</c> or the error.
/// </summary>
public sealed class UpstreamInvokeTests : IAsyncLifetime
{
    private const string KeyA = "first-signing-key-of-at-least-32-characters";
    private const string KeyB = "second-signing-key-of-at-least-32-characters";

    private readonly ConcurrentQueue<HandlerCall> _calls = new();
    private WebApplication _handler = null!;
    private string _url = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        _handler = builder.Build();
        _handler.MapPost("/handler", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            var call = new HandlerCall(request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body.ToArray());
            _calls.Enqueue(call);
            return call.Header("ce-type") switch
            {
                "serverlessws.user.echo" => Results.Text($$"""{"echo":{{System.Text.Encoding.UTF8.GetString(call.Body)}}}""", "application/json"),
                "serverlessws.user.fail" => Results.StatusCode(500),
                "serverlessws.user.notjson" => Results.Text("this is not JSON", "text/plain"),
                "serverlessws.user.empty" => Results.Ok(),
                "serverlessws.user.slow" => await SlowAsync(),
                _ => Results.NotFound(),
            };
        });
        await _handler.StartAsync();
        _url = _handler.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single() + "/handler";
    }

    public async Task DisposeAsync() => await _handler.DisposeAsync();

    [Fact]
    public async Task AnInvokeIsASignedCloudEventFromTheConnectionAndItsResultIsTheHandlersBody()
    {
        await using var node = await StartNodeAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        // Fields a client adds to the frame or its data cannot change who the handler hears it from.
        await alice.SendAsync("""{"type":"invoke","event":"echo","data":{"n":1,"clientId":"mallory"},"id":"i1","clientId":"mallory","userId":"root"}""");

        var result = await alice.ReceiveAsync();
        Assert.Equal(("result", "i1", """{"echo":{"n":1,"clientId":"mallory"}}"""), (result.Type(), result.GetProperty("id").GetString(), result.GetProperty("data").GetRawText()));
        var call = Assert.Single(_calls);
        Assert.Equal("1.0", call.Header("ce-specversion"));
        Assert.Equal("/clients/alice", call.Header("ce-source"));
        Assert.Equal("alice", call.Header("ce-clientid"));
        Assert.Equal(node.ServerId, call.Header("ce-serverid"));
        Assert.Null(call.Header("ce-userid"));
        Assert.Equal("application/json", call.Header("content-type"));
        Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse(call.Header("ce-time")!, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromMinutes(1));
        Assert.Equal("""{"n":1,"clientId":"mallory"}""", System.Text.Encoding.UTF8.GetString(call.Body));
        // Signed with both keys: a handler that knows either one verifies it; a changed body or sender verifies with neither.
        string? Header(string name) => call.Header(name.ToLowerInvariant());
        Assert.True(UpstreamSignature.Verify([KeyA], Header, call.Body));
        Assert.True(UpstreamSignature.Verify([KeyB], Header, call.Body));
        Assert.False(UpstreamSignature.Verify([KeyA, KeyB], Header, "{\"n\":2}"u8));
        Assert.False(UpstreamSignature.Verify([KeyA, KeyB], name => name == "ce-clientid" ? "mallory" : Header(name), call.Body));
        Assert.False(UpstreamSignature.Verify(["a-key-nobody-configured-of-32-characters"], Header, call.Body));
    }

    [Theory]
    [InlineData("echo", null, "ok")]
    [InlineData("fail", "upstream-failed", "failed")]
    [InlineData("notjson", "upstream-failed", "failed")]
    [InlineData("slow", "upstream-timeout", "timeout")]
    public async Task AFailingOrSlowHandlerGivesTheDocumentedErrorAndTheSocketStaysOpen(string eventName, string? code, string outcome)
    {
        using var calls = new UpstreamCallsRecorder();
        await using var node = await StartNodeAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync($$"""{"type":"invoke","event":"{{eventName}}","data":null,"id":7}""");

        var answer = await alice.ReceiveAsync();
        if (code is null)
        {
            Assert.Equal(("result", "7"), (answer.Type(), answer.GetProperty("id").GetRawText()));
        }
        else
        {
            Assert.Equal(("error", code, "7"), (answer.Type(), answer.GetProperty("code").GetString(), answer.GetProperty("id").GetRawText()));
        }

        Assert.Equal(WebSocketState.Open, alice.Socket.State);
        await alice.AssertAliveAsync();
        // Counted on the dashboard's instruments: one call of kind invoke with this outcome, and its time.
        Assert.Equal([("ws.upstream.calls", outcome), ("ws.upstream.latency", outcome)], calls.Taken.OrderBy(m => m.Instrument));
    }

    /// <summary>The upstream instruments' measurements of kind <c>invoke</c> while it lives (this class's tests run one at a time).</summary>
    private sealed class UpstreamCallsRecorder : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, string Outcome)> _taken = new();

        public UpstreamCallsRecorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument == WsMetrics.UpstreamCalls || instrument == WsMetrics.UpstreamLatency)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Take(instrument.Name, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Take(instrument.Name, tags));
            _listener.Start();
        }

        public IEnumerable<(string Instrument, string Outcome)> Taken => _taken;

        public void Dispose() => _listener.Dispose();

        private void Take(string instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? kind = null, outcome = null;
            foreach (var tag in tags)
            {
                kind = tag.Key == "kind" ? (string?)tag.Value : kind;
                outcome = tag.Key == "outcome" ? (string?)tag.Value : outcome;
            }

            if (kind == "invoke")
            {
                _taken.Enqueue((instrument, outcome!));
            }
        }
    }

    [Fact]
    public async Task AnEmptyAnswerIsANullResult()
    {
        await using var node = await StartNodeAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"invoke","event":"empty","data":1,"id":"e"}""");

        Assert.Equal("null", (await alice.ReceiveOfTypeAsync("result")).GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task ASlowHandlerHoldsNeitherTheConnectionsOtherFramesNorOtherClients()
    {
        await using var node = await StartNodeAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");

        await alice.SendAsync("""{"type":"invoke","event":"slow","data":null,"id":"slow"}""");
        await alice.SendAsync(Frames.Send("bob", "1", id: "s"));

        // The send's ack and bob's message come while the handler still works on the invoke.
        var first = await alice.ReceiveAsync();
        Assert.Equal(("ack", "s"), (first.Type(), first.GetProperty("id").GetString()));
        Assert.Equal(1, (await bob.ReceiveAsync()).Seq());
        Assert.Equal("upstream-timeout", (await alice.ReceiveAsync()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task AConnectionMayHaveOnlyMaxInFlightPerConnectionInvokesWaiting()
    {
        var settings = Settings.Of(("Upstream:Url", _url), ("Upstream:TimeoutSeconds", 1), ("Upstream:MaxInFlightPerConnection", 1));
        settings["Upstream:SigningKeys:0"] = KeyA;
        await using var node = await WsNode.StartAsync(settings);
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"invoke","event":"slow","data":null,"id":1}""");
        await alice.SendAsync("""{"type":"invoke","event":"echo","data":null,"id":2}""");

        var refused = await alice.ReceiveAsync();
        Assert.Equal(("rate-limited", "2"), (refused.GetProperty("code").GetString(), refused.GetProperty("id").GetRawText()));
        var timedOut = await alice.ReceiveAsync();
        Assert.Equal(("upstream-timeout", "1"), (timedOut.GetProperty("code").GetString(), timedOut.GetProperty("id").GetRawText()));
        // Once the first is answered there is room again.
        await alice.SendAsync("""{"type":"invoke","event":"echo","data":3,"id":3}""");
        Assert.Equal("""{"echo":3}""", (await alice.ReceiveOfTypeAsync("result")).GetProperty("data").GetRawText());
    }

    [Theory]
    [InlineData("""{"type":"invoke","event":"echo","data":1}""")]
    [InlineData("""{"type":"invoke","data":1,"id":1}""")]
    [InlineData("""{"type":"invoke","event":"no spaces","data":1,"id":1}""")]
    [InlineData("""{"type":"invoke","event":"echo","id":1}""")]
    [InlineData("""{"type":"event","event":"x"}""")]
    public async Task AMalformedInvokeOrEventIsABadFrame(string frame)
    {
        await using var node = await StartNodeAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync(frame);

        Assert.Equal("bad-frame", (await alice.ReceiveOfTypeAsync("error")).GetProperty("code").GetString());
        Assert.Empty(_calls);
    }

    [Fact]
    public async Task WithNoHandlerInvokeAndEventAnswerNotConfigured()
    {
        await using var node = await WsNode.StartAsync();
        await using var alice = await TestClient.ConnectAsync(node, "clientId=alice");

        await alice.SendAsync("""{"type":"invoke","event":"echo","data":1,"id":"i"}""");
        await alice.SendAsync("""{"type":"event","event":"saved","data":1,"id":"e"}""");

        foreach (var id in new[] { "i", "e" })
        {
            var error = await alice.ReceiveAsync();
            Assert.Equal(("error", "not-configured", id), (error.Type(), error.GetProperty("code").GetString(), error.GetProperty("id").GetString()));
        }

        Assert.Empty(_calls);
    }

    [Theory]
    [InlineData("not a url", "Upstream:Url")]
    [InlineData("ftp://127.0.0.1/handler", "Upstream:Url")]
    [InlineData("http://127.0.0.1/handler", "Upstream:SigningKeys")]
    public async Task AHandlerConfiguredWrongStopsTheNodeWithAMessageThatNamesTheKey(string url, string key)
    {
        var settings = Settings.Of(("Upstream:Url", url));
        if (key == "Upstream:Url")
        {
            settings["Upstream:SigningKeys:0"] = KeyA;
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(() => WsNode.StartAsync(settings));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    private Task<WsNode> StartNodeAsync()
    {
        var settings = Settings.Of(("Upstream:Url", _url), ("Upstream:TimeoutSeconds", 1));
        settings["Upstream:SigningKeys:0"] = KeyA;
        settings["Upstream:SigningKeys:1"] = KeyB;
        return WsNode.StartAsync(settings);
    }

    private static async Task<IResult> SlowAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(3));
        return Results.Ok();
    }

    private sealed record HandlerCall(Dictionary<string, string> Headers, byte[] Body)
    {
        public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
    }
}
