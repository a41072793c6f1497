using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using ServerlessWs.App.Connections;
using ServerlessWs.App.Heartbeat;
using ConnectionContext = Microsoft.AspNetCore.Connections.ConnectionContext;

namespace ServerlessWs.App.Upgrade;

/// <summary>
/// Serves a connection whose first request is the WebSocket upgrade <c>GET /ws</c> without Kestrel's HTTP/1.1
/// pipeline: a Kestrel connection middleware reads the request head, runs the same admission as the endpoint on a
/// short-lived <see cref="HttpContext"/>, writes the 101 itself and runs the socket on the bare transport. An upgraded
/// request would otherwise keep Kestrel's whole request state (~11 KiB) alive for the life of the socket, and every
/// HTTP connection is ticked by Kestrel's 1 s heartbeat. Any other first request reaches Kestrel's HTTP pipeline
/// byte for byte, where the <c>/ws</c> endpoint remains the fallback (keep-alive connections, HTTP/2).
/// </summary>
internal sealed class WebSocketFastPath
{
    // RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing.
    private const string HandshakeGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private readonly ConnectionDelegate _next;
    private readonly WebSocketsManager _manager;
    private readonly IServiceScopeFactory _scopes;
    private readonly ForwardedHeadersMiddleware? _forwarded;
    private readonly TimeSpan _headersTimeout;

    public WebSocketFastPath(ConnectionDelegate next, IServiceProvider services)
    {
        _next = next;
        _manager = services.GetRequiredService<WebSocketsManager>();
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        _headersTimeout = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.RequestHeadersTimeout;

        // ASPNETCORE_FORWARDEDHEADERS_ENABLED puts the framework's middleware in the HTTP pipeline; the fast path
        // applies the same one, so the per-address limit sees the client behind the ingress on both paths.
        var forwarded = services.GetRequiredService<IOptions<ForwardedHeadersOptions>>();
        if (forwarded.Value.ForwardedHeaders != ForwardedHeaders.None)
        {
            _forwarded = new ForwardedHeadersMiddleware(_ => Task.CompletedTask, services.GetRequiredService<ILoggerFactory>(), forwarded);
        }
    }

    /// <summary>
    /// Puts the fast path in front of HTTP on every endpoint, those from <c>--urls</c> included. Behind TLS it sees
    /// ciphertext and passes everything through (the platform's ingress terminates TLS before WsApp).
    /// </summary>
    public static void AddTo(WebApplicationBuilder builder) =>
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen =>
            listen.Use(next => new WebSocketFastPath(next, listen.ApplicationServices).OnConnectionAsync)));

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        // Nothing of the request (head, HttpContext, scope) outlives AdmitAsync: this frame keeps only the admission.
        var outcome = await AdmitAsync(connection);
        if (outcome.PassThrough)
        {
            await _next(connection);
        }
        else if (outcome.Admission is { } admission)
        {
            await _manager.RunAsync(admission, () => AcceptAsync(connection, outcome.Accept!));
        }
    }

    private async Task<Outcome> AdmitAsync(ConnectionContext connection)
    {
        var (status, head, error) = await ReadHeadAsync(connection);
        switch (status)
        {
            case HeadStatus.PassThrough:
                return new Outcome(PassThrough: true);
            case HeadStatus.TooLarge:
                await RespondAsync(connection, null, StatusCodes.Status431RequestHeaderFieldsTooLarge, "The request head is too large.");
                return default;
            case HeadStatus.Malformed:
                await RespondAsync(connection, null, StatusCodes.Status400BadRequest, error!);
                return default;
            case HeadStatus.Incomplete:
                // Timed out or closed part way: nothing to answer.
                return default;
        }

        var headers = head!.Headers;
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
            await RespondAsync(connection, head, StatusCodes.Status400BadRequest, refusal);
            return default;
        }

        if (!string.Equals(headers.SecWebSocketVersion, "13", StringComparison.Ordinal))
        {
            await RespondAsync(connection, head, StatusCodes.Status426UpgradeRequired, "Only WebSocket version 13 is supported.");
            return default;
        }

        await using var scope = _scopes.CreateAsyncScope();
        var http = CreateContext(connection, head, scope.ServiceProvider, out var body);
        var admission = await _manager.AdmitAsync(http);
        if (admission is null)
        {
            await WriteResponseAsync(connection.Transport.Output, http, body);
            return default;
        }

        return new Outcome(PassThrough: false, admission, AcceptKey(headers.SecWebSocketKey.ToString()));
    }

    /// <summary>
    /// Reads until the head is complete, or the bytes are plainly not ours. Whatever is not consumed stays in the
    /// pipe: on pass-through all of it (examined nothing, so Kestrel's parser sees it at once), on an upgrade what
    /// came after the head (the client's first frames).
    /// </summary>
    private async Task<(HeadStatus Status, UpgradeRequestHead? Head, string? Error)> ReadHeadAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        // The same bound on a slow head as Kestrel's (RequestHeadersTimeout), so a silent connection cannot sit here.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(_headersTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // Timed out, or the client closed or reset the connection part way.
                return (HeadStatus.Incomplete, null, null);
            }

            var buffer = result.Buffer;
            var status = UpgradeRequestHead.Parse(buffer, out var end, out var head, out var error);
            switch (status)
            {
                case HeadStatus.Complete when IsUpgrade(head!.Headers):
                    input.AdvanceTo(end);
                    return (status, head, null);
                case HeadStatus.Complete:
                    // A plain GET /ws: the endpoint answers it (400) and the connection stays keep-alive, as before.
                    input.AdvanceTo(buffer.Start, buffer.Start);
                    return (HeadStatus.PassThrough, null, null);
                case HeadStatus.Incomplete when !result.IsCompleted:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                case HeadStatus.Incomplete or HeadStatus.PassThrough:
                    input.AdvanceTo(buffer.Start, buffer.Start);
                    return (HeadStatus.PassThrough, null, null);
                default:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    return (status, null, error);
            }
        }
    }

    /// <summary>The request as the endpoint would see it, for the admission checks (and the JWT handler).</summary>
    private DefaultHttpContext CreateContext(ConnectionContext connection, UpgradeRequestHead head, IServiceProvider services, out MemoryStream body)
    {
        var http = new DefaultHttpContext { RequestServices = services, RequestAborted = connection.ConnectionClosed };
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

        if (connection.RemoteEndPoint is IPEndPoint remote)
        {
            http.Connection.RemoteIpAddress = remote.Address;
            http.Connection.RemotePort = remote.Port;
        }

        if (connection.LocalEndPoint is IPEndPoint local)
        {
            http.Connection.LocalIpAddress = local.Address;
            http.Connection.LocalPort = local.Port;
        }

        http.Connection.Id = connection.ConnectionId;
        _forwarded?.ApplyForwarders(http);

        body = new MemoryStream();
        http.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(body));
        return http;
    }

    /// <summary>A refusal before any admission check (the handshake itself is wrong), as problem+json.</summary>
    private async Task RespondAsync(ConnectionContext connection, UpgradeRequestHead? head, int statusCode, string reason)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var http = CreateContext(connection, head ?? UpgradeRequestHead.Empty, scope.ServiceProvider, out var body);
        if (statusCode == StatusCodes.Status426UpgradeRequired)
        {
            http.Response.Headers.SecWebSocketVersion = "13";
        }

        await _manager.RefuseAsync(http, statusCode, reason);
        await WriteResponseAsync(connection.Transport.Output, http, body);
    }

    /// <summary>Serializes the temporary context's response; the connection closes after it.</summary>
    private static async Task WriteResponseAsync(PipeWriter output, HttpContext http, MemoryStream body)
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
        output.Write(Encoding.ASCII.GetBytes(text.ToString()));
        output.Write(body.GetBuffer().AsSpan(0, (int)body.Length));
        await output.FlushAsync();
    }

    private static async Task<(WebSocket Socket, HeartbeatStream Heartbeat)> AcceptAsync(ConnectionContext connection, string accept)
    {
        var output = connection.Transport.Output;
        output.Write(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\n{HeaderNames.Connection}: Upgrade\r\n{HeaderNames.Upgrade}: websocket\r\n" +
            $"{HeaderNames.SecWebSocketAccept}: {accept}\r\n\r\n"));
        await output.FlushAsync();

        // Keep-alive is off, as on the endpoint: the heartbeat sweep pings and counts pongs itself (HeartbeatStream).
        var heartbeat = new HeartbeatStream(new DuplexPipeStream(connection.Transport));
        var socket = WebSocket.CreateFromStream(heartbeat, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        return (socket, heartbeat);
    }

    private static bool IsUpgrade(IHeaderDictionary headers) =>
        HasToken(headers, HeaderNames.Connection, "upgrade") && HasToken(headers, HeaderNames.Upgrade, "websocket");

    private static bool HasToken(IHeaderDictionary headers, string name, string token) =>
        headers.GetCommaSeparatedValues(name).Any(value => value.Trim().Equals(token, StringComparison.OrdinalIgnoreCase));

    private static bool IsValidKey(string? key)
    {
        Span<byte> bytes = stackalloc byte[16];
        return key is { Length: 24 } && Convert.TryFromBase64String(key, bytes, out var written) && written == 16;
    }

    // SHA-1 is what RFC 6455 §4.2.2 prescribes here: a handshake check, not a security property.
#pragma warning disable CA5350
    private static string AcceptKey(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + HandshakeGuid)));
#pragma warning restore CA5350

    /// <summary>What the head led to: Kestrel's turn, an admitted connect to upgrade, or neither (answered, or gone).</summary>
    private readonly record struct Outcome(bool PassThrough, WebSocketsManager.Admission? Admission = null, string? Accept = null);
}
