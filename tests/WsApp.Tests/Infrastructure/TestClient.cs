using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ServerlessWs.App.Tests.Infrastructure;

/// <summary>A real <see cref="ClientWebSocket"/> with JSON helpers; every wait is bounded so a hang fails fast.</summary>
public sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private TestClient(ClientWebSocket socket, JsonElement welcome)
    {
        Socket = socket;
        Welcome = welcome;
    }

    public ClientWebSocket Socket { get; }

    public JsonElement Welcome { get; }

    public string ClientId => Welcome.GetProperty("clientId").GetString()!;

    public string ResumeToken => Welcome.GetProperty("resumeToken").GetString()!;

    /// <summary>Connects and reads the welcome frame.</summary>
    public static async Task<TestClient> ConnectAsync(WsNode node, string query = "", Action<ClientWebSocketOptions>? options = null)
    {
        var socket = new ClientWebSocket();
        options?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(node.WsUri(query), timeout.Token);
        var welcome = await ReceiveJsonAsync(socket);
        Assert.Equal("welcome", welcome.GetProperty("type").GetString());
        return new TestClient(socket, welcome);
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

    public Task<JsonElement> ReceiveAsync() => ReceiveJsonAsync(Socket);

    /// <summary>Reads frames until one of <paramref name="type"/> arrives, skipping others.</summary>
    public async Task<JsonElement> ReceiveOfTypeAsync(string type)
    {
        while (true)
        {
            var frame = await ReceiveAsync();
            if (frame.GetProperty("type").GetString() == type)
            {
                return frame;
            }
        }
    }

    /// <summary>Reads until the server's close frame and returns its code (frames before it are discarded).</summary>
    public async Task<WebSocketCloseStatus?> ReceiveCloseAsync(TimeSpan? within = null)
    {
        using var timeout = new CancellationTokenSource(within ?? Timeout);
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer, timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return result.CloseStatus;
                }
            }
        }
        catch (WebSocketException)
        {
            // Aborted without a close frame.
            return null;
        }
    }

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
        if (Socket.State == WebSocketState.Open)
        {
            await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
        }
        else if (Socket.State == WebSocketState.CloseReceived)
        {
            // Completes a close the server started.
            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync();
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // Already broken; nothing to close.
        }

        Socket.Dispose();
    }

    private static async Task<JsonElement> ReceiveJsonAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using var message = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException($"Closed by the server with {result.CloseStatus} while a frame was expected.");
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
            }
        }
    }
}
