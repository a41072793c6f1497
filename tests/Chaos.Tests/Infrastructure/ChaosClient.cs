using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// A client that behaves as a well-made one does: on any close but a takeover it reconnects to a live node with its
/// <c>resumeToken</c> and <c>lastSeq</c>. It keeps its own record of what it received (by sender and counter, and by
/// seq), so the test can count lost, duplicated and out-of-order messages from the client's side.
/// </summary>
public sealed class ChaosClient : IAsyncDisposable
{
    private static readonly TimeSpan ReconnectDeadline = TimeSpan.FromSeconds(30);

    private readonly Func<NodeProcess> _pickNode;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string?>> _acks = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _highestFrom = new(StringComparer.Ordinal);
    private readonly HashSet<(string From, long N)> _seen = [];
    private readonly List<string> _closes = [];
    private TaskCompletionSource<ClientWebSocket> _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private string? _resumeToken;
    private long _lastSeq;

    private ChaosClient(string clientId, Func<NodeProcess> pickNode)
    {
        ClientId = clientId;
        _pickNode = pickNode;
    }

    public string ClientId { get; }

    /// <summary>The server of the current (or last) socket, from its welcome.</summary>
    public string? ServerId { get; private set; }

    public int Connects { get; private set; }

    /// <summary>Welcomes with <c>recovered: false</c> or a resume that came back <c>resumed: false</c>.</summary>
    public int NotRecovered { get; private set; }

    /// <summary>Message frames whose seq was not the last seq + 1 (a gap, or a seq seen before).</summary>
    public int SeqBreaks { get; private set; }

    public long Received { get; private set; }

    public long Duplicated { get; private set; }

    public long OutOfOrder { get; private set; }

    /// <summary>Set when the client gave up: a close it must not retry (4000, 4001), or no node took it in time.</summary>
    public string? Failure { get; private set; }

    public bool IsOpen => _open.Task is { IsCompletedSuccessfully: true } open && open.Result.State == WebSocketState.Open;

    /// <summary>How each socket ended: the close code, or "abort" when the connection just broke.</summary>
    public IReadOnlyList<string> Closes
    {
        get
        {
            lock (_gate)
            {
                return [.. _closes];
            }
        }
    }

    public static async Task<ChaosClient> ConnectAsync(string clientId, Func<NodeProcess> pickNode)
    {
        var client = new ChaosClient(clientId, pickNode);
        var socket = await client.ConnectOnceAsync();
        client._loop = client.RunAsync(socket);
        return client;
    }

    /// <summary>Whether the message (<paramref name="from"/>, <paramref name="n"/>) was received.</summary>
    public bool Got(string from, long n)
    {
        lock (_gate)
        {
            return _seen.Contains((from, n));
        }
    }

    /// <summary>
    /// Sends <c>{"n": n}</c> to <paramref name="to"/> and waits for the ack. Returns its status, or null when the
    /// send is in doubt (the socket broke, or the store answered <c>unavailable</c>): it may or may not be in the log.
    /// </summary>
    public async Task<string?> SendAsync(string to, long n, TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(timeout);
        var id = n.ToString(CultureInfo.InvariantCulture);
        var ack = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _acks[id] = ack;
        try
        {
            var socket = await _open.Task.WaitAsync(deadline.Token);
            var frame = Encoding.UTF8.GetBytes($$$"""{"type":"send","to":"{{{to}}}","id":"{{{id}}}","data":{"n":{{{id}}}}}""");
            await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, deadline.Token);
            return await ack.Task.WaitAsync(deadline.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            _acks.TryRemove(id, out _);
        }
    }

    /// <summary>Closes the socket normally and stops reconnecting.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        // Read once: the receive loop replaces _open when a socket ends.
        if (_open.Task is { IsCompletedSuccessfully: true } open)
        {
            open.Result.Abort();
        }

        await _loop.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task RunAsync(ClientWebSocket socket)
    {
        while (!_stop.IsCancellationRequested)
        {
            var close = await ReceiveUntilClosedAsync(socket);
            _open = new TaskCompletionSource<ClientWebSocket>(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var ack in _acks.Values)
            {
                ack.TrySetResult(null);
            }

            socket.Dispose();
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            lock (_gate)
            {
                _closes.Add(close);
            }

            if (close is "4000" or "4001")
            {
                Failure = $"closed with {close}";
                return;
            }

            try
            {
                socket = await ConnectOnceAsync();
            }
            catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
            {
                Failure = $"no node took the client back: {e.Message}";
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Connects (resuming when it has a token), trying live nodes with a short backoff until the deadline.</summary>
    private async Task<ClientWebSocket> ConnectOnceAsync()
    {
        var deadline = DateTime.UtcNow + ReconnectDeadline;
        for (var attempt = 0; ; attempt++)
        {
            var node = _pickNode();
            var query = _resumeToken is null
                ? $"clientId={ClientId}"
                : $"clientId={ClientId}&resumeToken={_resumeToken}&lastSeq={_lastSeq}";
            var socket = new ClientWebSocket();
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                await socket.ConnectAsync(node.WsUri(query), timeout.Token);
                await ReadWelcomeAsync(socket, timeout.Token);
                Connects++;
                _open.TrySetResult(socket);
                return socket;
            }
            catch (Exception) when (DateTime.UtcNow < deadline && !_stop.IsCancellationRequested)
            {
                socket.Dispose();
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt, 4)) * Random.Shared.NextDouble()));
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    private async Task ReadWelcomeAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var welcome = await ReceiveFrameAsync(socket, new byte[64 * 1024], cancellationToken)
            ?? throw new WebSocketException("closed before the welcome");
        var root = welcome.RootElement;
        if (root.GetProperty("type").GetString() != "welcome")
        {
            throw new InvalidOperationException($"first frame was not a welcome: {root}");
        }

        var resuming = _resumeToken is not null;
        if (!root.GetProperty("recovered").GetBoolean() || (resuming && !root.GetProperty("resumed").GetBoolean()))
        {
            NotRecovered++;
        }

        _resumeToken = root.GetProperty("resumeToken").GetString();
        ServerId = root.GetProperty("serverId").GetString();
    }

    private async Task<string> ReceiveUntilClosedAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var frame = await ReceiveFrameAsync(socket, buffer, _stop.Token);
                if (frame is null)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    return ((int?)socket.CloseStatus)?.ToString(CultureInfo.InvariantCulture) ?? "none";
                }

                Handle(frame.RootElement);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            return "abort";
        }
    }

    private void Handle(JsonElement frame)
    {
        switch (frame.GetProperty("type").GetString())
        {
            case "message":
                Record(frame);
                break;
            case "ack":
                if (_acks.TryGetValue(frame.GetProperty("id").GetString()!, out var ack))
                {
                    ack.TrySetResult(frame.GetProperty("status").GetString());
                }

                break;
            case "error" when frame.TryGetProperty("id", out var id):
                if (_acks.TryGetValue(id.GetString()!, out var failed))
                {
                    failed.TrySetResult(null);
                }

                break;
        }
    }

    private void Record(JsonElement message)
    {
        var seq = message.GetProperty("seq").GetInt64();
        var from = message.GetProperty("from").GetString()!;
        var n = message.GetProperty("data").GetProperty("n").GetInt64();
        lock (_gate)
        {
            if (seq != _lastSeq + 1)
            {
                SeqBreaks++;
            }

            _lastSeq = Math.Max(_lastSeq, seq);
            Received++;
            if (!_seen.Add((from, n)))
            {
                Duplicated++;
            }

            if (_highestFrom.TryGetValue(from, out var highest) && n < highest)
            {
                OutOfOrder++;
            }

            _highestFrom[from] = Math.Max(highest, n);
        }
    }

    private static async Task<JsonDocument?> ReceiveFrameAsync(ClientWebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(buffer.AsMemory(0, length));
            }
        }
    }
}
