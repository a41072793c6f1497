using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace ServerlessWs.App.Tests.Infrastructure;

/// <summary>
/// A real <see cref="ClientWebSocket"/> with a receive pump, as a real client has: a .NET client answers protocol
/// pings only while a receive is pending. Every wait is bounded so a hang fails fast.
/// </summary>
public sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _pump;

    private TestClient(ClientWebSocket socket)
    {
        Socket = socket;
        _pump = Task.Run(PumpAsync);
    }

    public ClientWebSocket Socket { get; }

    /// <summary>Whether the server closed (or broke) this connection.</summary>
    public bool IsClosed => _closed.Task.IsCompleted;

    public JsonElement Welcome { get; private set; }

    public string ClientId => Welcome.GetProperty("clientId").GetString()!;

    public string ResumeToken => Welcome.GetProperty("resumeToken").GetString()!;

    /// <summary>Connects and reads the welcome frame.</summary>
    public static async Task<TestClient> ConnectAsync(WsNode node, string query = "", Action<ClientWebSocketOptions>? options = null)
    {
        var socket = new ClientWebSocket();
        options?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(node.WsUri(query), timeout.Token);
        var client = new TestClient(socket);
        client.Welcome = await client.ReceiveAsync();
        Assert.Equal("welcome", client.Welcome.Type());
        return client;
    }

    /// <summary>Tries to connect and returns the HTTP status of the refusal (101 when it was accepted).</summary>
    public static async Task<int> ConnectStatusAsync(WsNode node, string query = "", Action<ClientWebSocketOptions>? options = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        options?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await socket.ConnectAsync(node.WsUri(query), timeout.Token);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
        }
        catch (WebSocketException)
        {
            // The status says why.
        }

        return (int)socket.HttpStatusCode;
    }

    public Task SendAsync(string json) => SendTextAsync(Encoding.UTF8.GetBytes(json));

    public async Task SendTextAsync(ReadOnlyMemory<byte> utf8, bool endOfMessage = true)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await Socket.SendAsync(utf8, WebSocketMessageType.Text, endOfMessage, timeout.Token);
    }

    /// <summary>The next frame; fails if the server closes first or nothing comes in time.</summary>
    public async Task<JsonElement> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            return await _frames.Reader.ReadAsync(timeout.Token);
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"Closed by the server with {await _closed.Task} while a frame was expected.");
        }
    }

    /// <summary>Reads frames until one of <paramref name="type"/> arrives, skipping others.</summary>
    public async Task<JsonElement> ReceiveOfTypeAsync(string type)
    {
        while (true)
        {
            var frame = await ReceiveAsync();
            if (frame.Type() == type)
            {
                return frame;
            }
        }
    }

    /// <summary>The server's close code once it closes (frames before it are discarded); null for an abort.</summary>
    public async Task<WebSocketCloseStatus?> ReceiveCloseAsync(TimeSpan? within = null) =>
        await _closed.Task.WaitAsync(within ?? Timeout);

    /// <summary>Sends a ping frame with an id and waits for its pong: proof the connection still serves.</summary>
    public async Task AssertAliveAsync()
    {
        var id = Guid.NewGuid().ToString("N");
        await SendAsync($$"""{"type":"ping","id":"{{id}}"}""");
        var pong = await ReceiveOfTypeAsync("pong");
        Assert.Equal(id, pong.GetProperty("id").GetString());
    }

    public async Task CloseAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        if (Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
        }

        await _pump.WaitAsync(Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync();
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException)
        {
            // Already broken; nothing to close.
        }

        Socket.Dispose();
    }

    private async Task PumpAsync()
    {
        using var message = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult(result.CloseStatus);
                    // Completes the close handshake at once, as browsers do.
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    }

                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    _frames.Writer.TryWrite(JsonDocument.Parse(message.ToArray()).RootElement.Clone());
                    message.SetLength(0);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            _closed.TrySetResult(null);
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }
}
