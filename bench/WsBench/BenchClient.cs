using System.Buffers;
using System.Net.WebSockets;
using System.Text;

namespace ServerlessWs.Bench;

/// <summary>
/// One load-generating WebSocket client. It keeps a receive pending at all times (with a zero-byte read while
/// idle, so an idle client holds no buffer), which is also what lets it answer the servers' pings.
/// </summary>
internal sealed class BenchClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Action<BenchClient, ReadOnlyMemory<byte>>? _onMessage;
    private Task _receiving = Task.CompletedTask;

    private BenchClient(Action<BenchClient, ReadOnlyMemory<byte>>? onMessage) => _onMessage = onMessage;

    /// <summary>The first frame (the welcome).</summary>
    public string? Welcome { get; private set; }

    /// <summary>Completed with the close status when the server closes the socket (null on an abort).</summary>
    public TaskCompletionSource<WebSocketCloseStatus?> Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Connects and waits for the first frame.</summary>
    public static async Task<BenchClient> ConnectAsync(Uri uri, Action<BenchClient, ReadOnlyMemory<byte>>? onMessage, CancellationToken cancellationToken)
    {
        var client = new BenchClient(onMessage);
        client._socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await client._socket.ConnectAsync(uri, cancellationToken);
        var welcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client._receiving = client.ReceiveLoopAsync(welcome);
        client.Welcome = await welcome.Task.WaitAsync(cancellationToken);
        return client;
    }

    public async Task SendAsync(ReadOnlyMemory<byte> utf8)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(utf8, WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Gone already.
        }

        _socket.Abort();
        await _receiving.ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
        _sendLock.Dispose();
    }

    private async Task OnCloseAsync()
    {
        Closed.TrySetResult(_socket.CloseStatus);
        if (_socket.State == WebSocketState.CloseReceived)
        {
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }
    }

    private async Task ReceiveLoopAsync(TaskCompletionSource<string> welcome)
    {
        try
        {
            while (true)
            {
                // Idle: no buffer held. A buffer is rented only while a message is being read.
                var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (peek.MessageType == WebSocketMessageType.Close)
                {
                    await OnCloseAsync();
                    return;
                }

                var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
                try
                {
                    var count = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await _socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                        count += result.Count;
                    }
                    while (!result.EndOfMessage && count < buffer.Length);

                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await OnCloseAsync();
                        return;
                    }

                    if (!welcome.Task.IsCompleted)
                    {
                        welcome.TrySetResult(Encoding.UTF8.GetString(buffer, 0, count));
                        continue;
                    }

                    _onMessage?.Invoke(this, buffer.AsMemory(0, count));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            welcome.TrySetException(e);
            Closed.TrySetResult(null);
        }
    }
}
