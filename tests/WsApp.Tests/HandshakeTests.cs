using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// The upgrade handshake as bytes on the wire (RFC 6455 §4, RFC 9112): the connection's first request is served by
/// WsApp's own head reader, any later request on a keep-alive connection by the endpoint; both must answer alike.
/// The head reader is what most of them check, so the fast path is pinned on here even in the run without it.
/// </summary>
public sealed class HandshakeTests
{
    [Fact]
    public async Task AnUpgradeSentOneByteAtATimeIsServed()
    {
        await using var node = await WsNode.StartOnFastPathAsync();

        using var connection = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, "/ws?clientId=slow"), chunk: 1);

        Assert.Equal(101, connection.Status);
        Assert.Equal("websocket", connection.Headers["upgrade"], ignoreCase: true);
        AssertWelcome("slow", await connection.ReadMessageAsync(TestClient.Timeout));
    }

    [Fact]
    public async Task TheAcceptKeyIsTheOneRfc6455Computes()
    {
        await using var node = await WsNode.StartOnFastPathAsync();

        // The sample handshake of RFC 6455 §1.3.
        using var connection = await RawConnection.SendHeadAsync(node,
            $"GET /ws HTTP/1.1\r\nHost: {node.BaseUri.Authority}\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");

        Assert.Equal(101, connection.Status);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", connection.Headers["sec-websocket-accept"]);
    }

    [Theory]
    [InlineData("/healthz", 200)]
    [InlineData("/ws", 400)]
    public async Task AnUpgradeAfterAnotherRequestOnTheSameConnectionIsServedByTheEndpoint(string firstTarget, int firstStatus)
    {
        await using var node = await WsNode.StartOnFastPathAsync();
        // The first request is a plain GET (for /ws: not an upgrade, refused), and the connection stays open.
        using var connection = await RawConnection.SendHeadAsync(node, $"GET {firstTarget} HTTP/1.1\r\nHost: {node.BaseUri.Authority}\r\n\r\n");
        Assert.Equal(firstStatus, connection.Status);
        await connection.ReadBodyAsync();

        await connection.RequestAsync(RawConnection.UpgradeHead(node, "/ws?clientId=second"));

        Assert.Equal(101, connection.Status);
        AssertWelcome("second", await connection.ReadMessageAsync(TestClient.Timeout));
        Assert.Equal(1, node.Connections().Count);
    }

    [Fact]
    public async Task AnUnsupportedWebSocketVersionIsRefusedWith426NamingVersion13()
    {
        await using var node = await WsNode.StartOnFastPathAsync();

        using var connection = await RawConnection.SendHeadAsync(node,
            RawConnection.UpgradeHead(node, "/ws").Replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", StringComparison.Ordinal));

        Assert.Equal(426, connection.Status);
        Assert.Equal("13", connection.Headers["sec-websocket-version"]);
        Assert.Equal("application/problem+json", connection.ContentType);
        Assert.Equal(0, node.Connections().Count);
    }

    [Theory]
    [InlineData("no key", "Sec-WebSocket-Key: ", "X-Nothing: ")]
    [InlineData("a key of 15 bytes", "Sec-WebSocket-Key: ", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\nX-Old-Key: ")]
    [InlineData("no Host", "Host: ", "X-Host: ")]
    [InlineData("a body", "Upgrade: websocket", "Content-Length: 5\r\nUpgrade: websocket")]
    [InlineData("a chunked body", "Upgrade: websocket", "Transfer-Encoding: chunked\r\nUpgrade: websocket")]
    [InlineData("two keys", "Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nUpgrade: websocket")]
    [InlineData("a bare LF", "Upgrade: websocket\r\n", "Upgrade: websocket\n")]
    [InlineData("a space before the colon", "Upgrade: websocket", "Upgrade : websocket")]
    [InlineData("a folded line", "Upgrade: websocket", "Upgrade: websocket\r\n more")]
    [InlineData("a control byte in a value", "Upgrade: websocket", "Upgrade: websocket\r\nX-Bad: a\u0001b")]
    [InlineData("a space in the target", "GET /ws?", "GET /ws?a=1 b&")]
    public async Task AMalformedUpgradeIsRefusedWith400AndChangesNothing(string what, string replace, string with)
    {
        await using var node = await WsNode.StartOnFastPathAsync();
        var head = RawConnection.UpgradeHead(node, "/ws?clientId=malformed");
        Assert.True(head.Contains(replace, StringComparison.Ordinal), $"the case '{what}' must change the head");

        using var connection = await RawConnection.SendHeadAsync(node, ReplaceFirst(head, replace, with));

        Assert.Equal(400, connection.Status);
        Assert.Equal("application/problem+json", connection.ContentType);
        Assert.Equal("close", connection.Headers["connection"]);
        Assert.Equal(0, node.Connections().Count);
        await using var after = await TestClient.ConnectAsync(node, "clientId=malformed");
        Assert.False(after.Welcome.GetProperty("resumed").GetBoolean(), "the refused request claimed nothing");
    }

    [Fact]
    public async Task AnHttp10UpgradeIsRefusedWith400AndClaimsNothing()
    {
        // Issue 17 item 12: RFC 9110 §7.8 says an Upgrade in an HTTP/1.0 request is ignored. The fast path hands such
        // a head to Kestrel, whose fallback endpoint used to accept it with a 101.
        await using var node = await WsNode.StartOnFastPathAsync();

        using var connection = await RawConnection.SendHeadAsync(node,
            RawConnection.UpgradeHead(node, "/ws?clientId=old").Replace("HTTP/1.1", "HTTP/1.0", StringComparison.Ordinal));

        Assert.Equal(400, connection.Status);
        Assert.Equal(0, node.Connections().Count);
        await using var after = await TestClient.ConnectAsync(node, "clientId=old");
        Assert.False(after.Welcome.GetProperty("resumed").GetBoolean(), "the refused request claimed nothing");
    }

    [Fact]
    public async Task AHeadOver32KiBIsRefusedWith431()
    {
        await using var node = await WsNode.StartOnFastPathAsync();

        using var connection = await RawConnection.SendHeadAsync(node,
            RawConnection.UpgradeHead(node, "/ws", $"X-Padding: {new string('a', 33 * 1024)}\r\n"));

        Assert.Equal(431, connection.Status);
        Assert.Equal(0, node.Connections().Count);
    }

    [Fact]
    public async Task AHeadThatStopsHalfWayIsClosedAfterTheHeadersTimeout()
    {
        await using var node = await WsNode.StartOnFastPathAsync(services: s =>
            s.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1)));
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(node.BaseUri.Host, node.BaseUri.Port);
        var stream = tcp.GetStream();

        await stream.WriteAsync("GET /ws?clientId=stalled HTTP/1.1\r\nHost: x\r\n"u8.ToArray());

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var started = DateTime.UtcNow;
        Assert.Equal(0, await stream.ReadAsync(new byte[1], timeout.Token));
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(0.5), "closed by the timeout, not at once");
    }

    [Fact]
    public async Task AHeadThatStartsLikeTheUpgradeButIsNotOneGetsOneHeadersTimeoutNotTwo()
    {
        // Issue 17 item 10: the fast path waited for the bytes that told it the head was not "GET /ws", then handed
        // the connection to Kestrel, whose own RequestHeadersTimeout started over: two timeouts for one head.
        var headersTimeout = TimeSpan.FromSeconds(2);
        await using var node = await WsNode.StartOnFastPathAsync(services: s =>
            s.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.RequestHeadersTimeout = headersTimeout));
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(node.BaseUri.Host, node.BaseUri.Port);
        var stream = tcp.GetStream();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await stream.WriteAsync("GET /ws"u8.ToArray());
        await Task.Delay(headersTimeout * 0.75);
        await stream.WriteAsync("x HTTP/1.1\r\nHost: x\r\n"u8.ToArray());

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer, timeout.Token) > 0)
        {
            // An answer (Kestrel's 408) may come before the close; the close is what is timed.
        }

        Assert.InRange(clock.Elapsed, headersTimeout * 0.9, headersTimeout + TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task AClientThatConnectsAndStaysSilentIsLeftToTheKernelAndServedWhenItSpeaks()
    {
        // Linux holds the connection until its first bytes (TCP_DEFER_ACCEPT): the head timeout, one second here,
        // starts only then. Handed over at once, the connection would have been closed before the head came.
        await using var node = await WsNode.StartOnFastPathAsync(services: s =>
            s.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1)));

        using var connection = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, "/ws?clientId=late"), silence: TimeSpan.FromSeconds(2.5));

        Assert.Equal(101, connection.Status);
        AssertWelcome("late", await connection.ReadMessageAsync(TestClient.Timeout));
    }

    [Fact]
    public async Task BehindAProxyTheRateLimitCountsTheForwardedClientAddress()
    {
        await using var node = await WsNode.StartOnFastPathAsync(Settings.Of(
            ("FORWARDEDHEADERS_ENABLED", "true"),
            ("Ws:ConnectsPerSecondPerAddress", 1)));

        using var first = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, "/ws", "X-Forwarded-For: 203.0.113.7\r\n"));
        using var second = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, "/ws", "X-Forwarded-For: 203.0.113.8\r\n"));
        using var again = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, "/ws", "X-Forwarded-For: 203.0.113.7\r\n"));

        Assert.Equal(101, first.Status);
        Assert.Equal(101, second.Status);
        Assert.Equal(429, again.Status);
    }

    private static void AssertWelcome(string clientId, (byte Opcode, byte[] Payload)? message)
    {
        Assert.NotNull(message);
        Assert.Equal(RawConnection.OpText, message.Value.Opcode);
        using var welcome = JsonDocument.Parse(message.Value.Payload);
        Assert.Equal("welcome", welcome.RootElement.GetProperty("type").GetString());
        Assert.Equal(clientId, welcome.RootElement.GetProperty("clientId").GetString());
    }

    private static string ReplaceFirst(string text, string replace, string with)
    {
        var at = text.IndexOf(replace, StringComparison.Ordinal);
        return string.Concat(text.AsSpan(0, at), with, text.AsSpan(at + replace.Length));
    }
}
