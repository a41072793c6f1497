using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using ServerlessWs.App.Admission;
using ServerlessWs.App.Heartbeat;

namespace ServerlessWs.App.Upgrade;

/// <summary>
/// Serves a connection whose first request is the WebSocket upgrade <c>GET /ws</c> on the bare socket, for
/// <see cref="UpgradeListener"/>: reads the request head, runs the same admission as the endpoint on a short-lived
/// <see cref="HttpContext"/>, writes the 101 itself and runs the WebSocket on the socket. Any other first request goes
/// to Kestrel byte for byte, where the <c>/ws</c> endpoint remains the fallback (keep-alive connections, HTTP/2).
/// </summary>
internal sealed class WebSocketFastPath
{
    // RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing.
    private static ReadOnlySpan<byte> HandshakeGuid => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    // The 101 up to the accept value, which ends it (RFC 6455 §4.2.2).
    private static ReadOnlySpan<byte> SwitchingProtocols =>
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "u8;

    // Enough for any head a WebSocket client sends; a longer one grows the buffer up to the head's bound.
    private const int FirstReadBytes = 4096;

    private static readonly WebSocketCreationOptions ServerSocket = new() { IsServer = true, KeepAliveInterval = TimeSpan.Zero };

    private readonly ConnectAdmission _admissions;
    private readonly IServiceScopeFactory _scopes;
    private readonly ForwardedHeadersMiddleware? _forwarded;
    private readonly TimeSpan _headersTimeout;
    private readonly UpgradeLimits _limits;

    public WebSocketFastPath(IServiceProvider services)
    {
        _admissions = services.GetRequiredService<ConnectAdmission>();
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        // Kestrel's own limits and the host's AllowedHosts, read as Kestrel and the host filtering read them: a
        // connection must not escape them by being the fast path's (issue 17 item 7).
        var kestrel = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        _headersTimeout = kestrel.RequestHeadersTimeout;
        _limits = new UpgradeLimits(kestrel, services.GetRequiredService<IOptions<HostFilteringOptions>>().Value);

        // ASPNETCORE_FORWARDEDHEADERS_ENABLED puts the framework's middleware in the HTTP pipeline; the fast path
        // applies the same one, so the per-address limit sees the client behind the ingress on both paths.
        var forwarded = services.GetRequiredService<IOptions<ForwardedHeadersOptions>>();
        if (forwarded.Value.ForwardedHeaders != ForwardedHeaders.None)
        {
            _forwarded = new ForwardedHeadersMiddleware(_ => Task.CompletedTask, services.GetRequiredService<ILoggerFactory>(), forwarded);
        }
    }

    /// <summary>
    /// Upgrades <paramref name="socket"/> and starts its connection when its first request is the upgrade (or answers
    /// and closes it when that request is wrong); otherwise returns the bytes read from it, which Kestrel must see
    /// first. Returns once the connection runs: nothing here waits for the life of the socket.
    /// </summary>
    public async Task<ReadOnlyMemory<byte>?> ServeAsync(Socket socket)
    {
        var outcome = await AdmitAsync(socket);
        if (outcome.ReadSoFar is { } readSoFar)
        {
            return readSoFar;
        }

        if (outcome.Admission is not { } admission)
        {
            Close(socket);
            return null;
        }

        // From here the admission holds one of the live upgrades it reserved; RunAsync (or the catch) gives it back.

        (WebSocket WebSocket, HeartbeatStream Heartbeat) upgraded;
        try
        {
            upgraded = await AcceptAsync(socket, outcome.Response!, outcome.Early);
        }
        catch (Exception e)
        {
            // The client left before its 101 (or before its stream was made), or the stream could not be made: the
            // claim is given back either way (docs/protocol.md §1), and only an unexpected failure is logged.
            _limits.Release();
            await _admissions.AbandonAsync(admission);
            Close(socket);
            if (e is SocketException or IOException or ObjectDisposedException)
            {
                return null;
            }

            throw;
        }

        // Opened here (the welcome, the registration) before this returns; its run is not waited for.
        var running = _admissions.RunAsync(admission, upgraded.WebSocket, upgraded.Heartbeat);
        _ = ReleaseWhenEndedAsync(running);
        return null;
    }

    private async Task ReleaseWhenEndedAsync(Task running)
    {
        try
        {
            await running;
        }
        finally
        {
            _limits.Release();
        }
    }

    private async Task<Outcome> AdmitAsync(Socket socket)
    {
        var read = await ReadHeadAsync(socket);
        switch (read.Status)
        {
            case HeadStatus.PassThrough:
                return new Outcome(read.ReadSoFar);
            case HeadStatus.TooLarge:
                await RespondAsync(socket, null, StatusCodes.Status431RequestHeaderFieldsTooLarge, "The request head is too large.");
                return default;
            case HeadStatus.Malformed:
                await RespondAsync(socket, null, StatusCodes.Status400BadRequest, read.Error!);
                return default;
            case HeadStatus.Incomplete:
                // Timed out or closed part way: nothing to answer.
                return default;
        }

        var head = read.Head!;
        var headers = head.Headers;
        if (_limits.Refusal(head) is { } limit)
        {
            await RespondAsync(socket, null, limit.Status, limit.Reason);
            return default;
        }

        // The handshake itself (RFC 6455 §4.2.1); a body makes it no upgrade at all (RFC 9110 §7.8).
        var refusal = (headers.ContainsKey(HeaderNames.ContentLength) && headers.ContentLength != 0) || headers.ContainsKey(HeaderNames.TransferEncoding)
            ? "A WebSocket upgrade request has no body."
            : string.IsNullOrEmpty(headers.Host)
                ? "The Host header is required."
                : !IsValidKey(headers.SecWebSocketKey)
                    ? "Sec-WebSocket-Key must be base64 of 16 bytes."
                    : null;
        if (refusal is not null)
        {
            await RespondAsync(socket, head, StatusCodes.Status400BadRequest, refusal);
            return default;
        }

        if (!string.Equals(headers.SecWebSocketVersion, "13", StringComparison.Ordinal))
        {
            await RespondAsync(socket, head, StatusCodes.Status426UpgradeRequired, "Only WebSocket version 13 is supported.");
            return default;
        }

        // Reserved before the admission so concurrent connects cannot overshoot; given back unless upgraded.
        if (!_limits.TryReserve())
        {
            await RespondAsync(socket, head, StatusCodes.Status503ServiceUnavailable, "The server is full.");
            return default;
        }

        AdmittedConnect? admission;
        await using var scope = _scopes.CreateAsyncScope();
        var http = CreateContext(socket, head, scope.ServiceProvider, out var body);
        try
        {
            admission = await _admissions.AdmitAsync(http);
        }
        catch
        {
            _limits.Release();
            throw;
        }

        if (admission is null)
        {
            _limits.Release();
            await WriteResponseAsync(socket, http, body);
            return default;
        }

        return new Outcome(null, admission, SwitchingProtocolsFor(headers.SecWebSocketKey.ToString()), read.Early);
    }

    /// <summary>
    /// Reads until the head is complete, or the bytes are plainly not ours. The read buffer is the pool's and goes back
    /// to it here, before the admission waits on the store: what is kept of it is copied out.
    /// </summary>
    private async Task<HeadRead> ReadHeadAsync(Socket socket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(FirstReadBytes);
        var count = 0;
        var started = Stopwatch.GetTimestamp();
        CancellationTokenSource? timeout = null;
        // Whether this head kept the connection waiting here: then its time is spent, and Kestrel, which would start
        // its own RequestHeadersTimeout over, gets it only whole.
        var waited = false;
        try
        {
            while (true)
            {
                if (count == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, UpgradeRequestHead.MaxBytes + 1));
                    buffer.AsSpan(0, count).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int received;
                try
                {
                    if (socket.Available > 0)
                    {
                        // Most heads are already there: read without a wait, so without a timer.
                        received = socket.Receive(buffer.AsSpan(count), SocketFlags.None);
                    }
                    else
                    {
                        // The same bound on a slow head as Kestrel's (RequestHeadersTimeout), counted from the first
                        // read, so a silent connection cannot sit here.
                        waited = true;
                        timeout ??= new CancellationTokenSource(TimeSpan.FromTicks(Math.Max(0, (_headersTimeout - Stopwatch.GetElapsedTime(started)).Ticks)));
                        received = await socket.ReceiveAsync(buffer.AsMemory(count), SocketFlags.None, timeout.Token);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                    // Timed out, or the client reset the connection part way.
                    return new HeadRead(HeadStatus.Incomplete);
                }

                count += received;
                var status = UpgradeRequestHead.Parse(new ReadOnlySequence<byte>(buffer, 0, count), out var end, out var head, out var error);
                switch (status)
                {
                    case HeadStatus.Complete when IsUpgrade(head!.Headers):
                        // Frames a client sent before it saw the 101 (RFC 6455 §4.1 says it must wait, but TCP allows it).
                        var headEnd = end.GetInteger();
                        return new HeadRead(status, head, Early: count > headEnd ? buffer.AsSpan(headEnd, count - headEnd).ToArray() : null);
                    case HeadStatus.Incomplete when received > 0:
                        continue;
                    case HeadStatus.PassThrough when waited && received > 0 && count < UpgradeRequestHead.MaxBytes && !EndsHead(buffer.AsSpan(0, count)):
                        // Not ours after all, but only found out after a wait: one bound for the whole head, not two
                        // (issue 17 item 10). Read to its end here, within what is left of this one.
                        continue;
                    case HeadStatus.Complete or HeadStatus.Incomplete or HeadStatus.PassThrough:
                        // Not ours, a plain GET /ws (the endpoint answers it, 400, keep-alive), or a head cut short by
                        // the client's FIN: Kestrel answers each as it always does.
                        return new HeadRead(HeadStatus.PassThrough, ReadSoFar: buffer.AsSpan(0, count).ToArray());
                    default:
                        return new HeadRead(status, Error: error);
                }
            }
        }
        finally
        {
            timeout?.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The request as the endpoint would see it, for the admission checks (and the JWT handler).</summary>
    private DefaultHttpContext CreateContext(Socket socket, UpgradeRequestHead head, IServiceProvider services, out MemoryStream body)
    {
        var http = new DefaultHttpContext { RequestServices = services };
        var request = http.Request;
        request.Method = HttpMethods.Get;
        request.Scheme = Uri.UriSchemeHttp;
        request.Protocol = HttpProtocol.Http11;
        request.Path = "/ws";
        request.QueryString = new QueryString(head.QueryString.Length > 0 ? head.QueryString : null);
        foreach (var (name, values) in head.Headers)
        {
            request.Headers[name] = values;
        }

        if (socket.RemoteEndPoint is IPEndPoint remote)
        {
            http.Connection.RemoteIpAddress = remote.Address;
            http.Connection.RemotePort = remote.Port;
        }

        if (socket.LocalEndPoint is IPEndPoint local)
        {
            http.Connection.LocalIpAddress = local.Address;
            http.Connection.LocalPort = local.Port;
        }

        _forwarded?.ApplyForwarders(http);

        body = new MemoryStream();
        http.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(body));
        return http;
    }

    /// <summary>A refusal before any admission check (the handshake itself is wrong), as problem+json.</summary>
    private async Task RespondAsync(Socket socket, UpgradeRequestHead? head, int statusCode, string reason)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var http = CreateContext(socket, head ?? UpgradeRequestHead.Empty, scope.ServiceProvider, out var body);
        if (statusCode == StatusCodes.Status426UpgradeRequired)
        {
            http.Response.Headers.SecWebSocketVersion = "13";
        }

        await _admissions.RefuseAsync(http, statusCode, reason);
        await WriteResponseAsync(socket, http, body);
    }

    /// <summary>Serializes the temporary context's response; the connection closes after it.</summary>
    private static async Task WriteResponseAsync(Socket socket, HttpContext http, MemoryStream body)
    {
        await http.Features.GetRequiredFeature<IHttpResponseBodyFeature>().CompleteAsync();
        var response = http.Response;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {response.StatusCode} {ReasonPhrases.GetReasonPhrase(response.StatusCode)}\r\n");
        foreach (var (name, values) in response.Headers)
        {
            if (name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var value in values)
            {
                text.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
            }
        }

        text.Append(CultureInfo.InvariantCulture, $"{HeaderNames.ContentLength}: {body.Length}\r\n{HeaderNames.Connection}: close\r\n\r\n");
        try
        {
            await SocketStream.SendAllAsync(socket, Encoding.ASCII.GetBytes(text.ToString()));
            await SocketStream.SendAllAsync(socket, body.GetBuffer().AsMemory(0, (int)body.Length));
        }
        catch (SocketException)
        {
            // The client is gone; it gets no answer.
        }
    }

    private static async Task<(WebSocket Socket, HeartbeatStream Heartbeat)> AcceptAsync(Socket socket, byte[] switchingProtocols, byte[]? early)
    {
        // The stream owns the socket: the WebSocket closes it when it is disposed or aborted.
        var stream = new SocketStream(socket);
        await stream.WriteAsync(switchingProtocols);

        // Keep-alive is off, as on the endpoint: the heartbeat sweep pings and counts pongs itself (HeartbeatStream).
        var heartbeat = new HeartbeatStream(stream, early);
        var webSocket = WebSocket.CreateFromStream(heartbeat, ServerSocket);
        return (webSocket, heartbeat);
    }

    /// <summary>Closes a connection that was answered (or went silent) without an upgrade, as Kestrel closes one.</summary>
    private static void Close(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the client.
        }

        socket.Dispose();
    }

    /// <summary>Whether the bytes hold the blank line that ends a request head (a bare LF counts: Kestrel decides what to make of it).</summary>
    private static bool EndsHead(ReadOnlySpan<byte> bytes) => bytes.IndexOf("\r\n\r\n"u8) >= 0 || bytes.IndexOf("\n\n"u8) >= 0;

    private static bool IsUpgrade(IHeaderDictionary headers) =>
        HasToken(headers, HeaderNames.Connection, "upgrade") && HasToken(headers, HeaderNames.Upgrade, "websocket");

    private static bool HasToken(IHeaderDictionary headers, string name, string token) =>
        headers.GetCommaSeparatedValues(name).Any(value => value.Trim().Equals(token, StringComparison.OrdinalIgnoreCase));

    private static bool IsValidKey(string? key)
    {
        Span<byte> bytes = stackalloc byte[16];
        return key is { Length: 24 } && Convert.TryFromBase64String(key, bytes, out var written) && written == 16;
    }

    /// <summary>The whole 101 for a handshake's (valid) key: its accept value is base64(SHA-1(key + GUID)).</summary>
    private static byte[] SwitchingProtocolsFor(string key)
    {
        Span<byte> keyAndGuid = stackalloc byte[key.Length + HandshakeGuid.Length];
        var written = Encoding.ASCII.GetBytes(key, keyAndGuid);
        HandshakeGuid.CopyTo(keyAndGuid[written..]);
        Span<byte> hash = stackalloc byte[20];
        // SHA-1 is what RFC 6455 §4.2.2 prescribes here: a handshake check, not a security property.
#pragma warning disable CA5350
        SHA1.HashData(keyAndGuid, hash);
#pragma warning restore CA5350

        var response = new byte[SwitchingProtocols.Length + Base64.GetMaxEncodedToUtf8Length(hash.Length) + 4];
        SwitchingProtocols.CopyTo(response);
        Base64.EncodeToUtf8(hash, response.AsSpan(SwitchingProtocols.Length), out _, out var encoded);
        "\r\n\r\n"u8.CopyTo(response.AsSpan(SwitchingProtocols.Length + encoded));
        return response;
    }

    /// <summary>What the head led to: Kestrel's turn (with the bytes read), an admitted connect to upgrade, or neither (answered, or gone).</summary>
    private readonly record struct Outcome(byte[]? ReadSoFar, AdmittedConnect? Admission = null, byte[]? Response = null, byte[]? Early = null);

    /// <summary>A head as read: the upgrade's head and the bytes after it, or the bytes read for Kestrel, or what is wrong.</summary>
    private readonly record struct HeadRead(HeadStatus Status, UpgradeRequestHead? Head = null, byte[]? Early = null, byte[]? ReadSoFar = null, string? Error = null);
}
