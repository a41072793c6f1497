using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Threading.Channels;
using ServerlessWs.App.Heartbeat;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

/// <summary>
/// One client's socket: a receive loop that parses and dispatches frames in arrival order (which is what keeps
/// sends in order per sender-recipient pair), and a write loop that owns every send on the socket, fed by a
/// bounded queue so that a client that stops reading can stall nobody but itself.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "_closing has no timer or linked token to release; disposing it would race a late RequestClose from the bus.")]
internal sealed partial class ClientConnection
{
    // How long a close handshake (or a blocked write) may take before the socket is aborted. Wall-clock on purpose:
    // this bounds I/O, not protocol time.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private const int InitialReceiveBufferBytes = 4096;

    private readonly WebSocket _socket;
    private readonly HeartbeatStream _heartbeat;
    private readonly ConnectionContext _context;
    private readonly Channel<Outbound> _queue;
    private readonly CancellationTokenSource _closing = new();
    private readonly BadFrameWindow _badFrames;
    private FrameRateLimiter _rate;
    private int _closeCode = -1;
    private string _closeReason = string.Empty;
    private int _peerCloseCode = -1;
    private volatile bool _dropQueued;

    // Written only by the write loop: the highest seq handed to the socket (delivery strictly by seq, no duplicates).
    private long _lastSentSeq;

    // Written only by the heartbeat sweep, one tick at a time.
    private bool _pingOutstanding;
    private int _pongsAtPing;

    public ClientConnection(WebSocket socket, HeartbeatStream heartbeat, string clientId, long epoch, byte[] tokenHash, ConnectionContext context)
    {
        TokenHash = tokenHash;
        _socket = socket;
        _heartbeat = heartbeat;
        _context = context;
        ClientId = clientId;
        Epoch = epoch;
        _queue = Channel.CreateBounded<Outbound>(new BoundedChannelOptions(context.Options.SendQueueLimit)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _badFrames = new BadFrameWindow(context.Time);
        _rate = new FrameRateLimiter(context.Options.FramesPerSecond, context.Time.GetTimestamp());
    }

    public string ClientId { get; }

    public long Epoch { get; }

    /// <summary>The stored hash of the session's resume token: enough to re-assert the claim, useless to resume it.</summary>
    public byte[] TokenHash { get; }

    /// <summary>The close code this connection ended with, as a metric tag: the code sent or received, or <c>aborted</c>.</summary>
    public string EndReason => _closeCode >= 0 ? _closeCode.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : _peerCloseCode >= 0 ? _peerCloseCode.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : "aborted";

    /// <summary>
    /// Hands a log entry to the write loop (the doorbell). It never waits: a full queue means the client is not
    /// reading, and it is closed rather than allowed to hold up the sender or grow memory.
    /// </summary>
    public void Deliver(LogEntry entry)
    {
        if (!_queue.Writer.TryWrite(new Outbound(default, entry)) && _closeCode < 0)
        {
            ConnectionLog.ClosingForPolicy(_context.Logger, ClientId, CloseCodes.PolicyViolation, "send backlog exceeded");
            RequestClose(CloseCodes.PolicyViolation, "send backlog exceeded", dropQueued: true);
        }
    }

    /// <summary>
    /// Asks the connection to close with <paramref name="code"/>: frames already queued are sent first (so the frame
    /// that caused a policy close still gets its error), unless <paramref name="dropQueued"/>; then the close frame.
    /// If that cannot finish within the close timeout the socket is aborted. The first request wins.
    /// </summary>
    public void RequestClose(int code, string reason, bool dropQueued = false)
    {
        if (Interlocked.CompareExchange(ref _closeCode, code, -1) != -1)
        {
            return;
        }

        _closeReason = reason;
        _dropQueued = dropQueued;
        _queue.Writer.TryComplete();
        // Wakes a receive loop that waits for queue space.
        _closing.Cancel();
        _ = AbortIfStuckAsync();
    }

    /// <summary>
    /// One heartbeat tick: false when the ping sent at the previous tick got no pong (the client is to be dropped);
    /// otherwise a new ping goes out. A client that never answered is so timed from its connect (PROTOCOL.md §5a).
    /// </summary>
    public bool Heartbeat()
    {
        var pongs = _heartbeat.PongCount;
        if (_pingOutstanding && pongs == _pongsAtPing)
        {
            return false;
        }

        _pingOutstanding = true;
        _pongsAtPing = pongs;
        _ = PingAsync();
        return true;
    }

    /// <summary>Drops the socket at once, without a close handshake.</summary>
    public void Abort() => _socket.Abort();

    /// <summary>Whether a ping is out with no pong since (for tests that step the clock).</summary>
    internal bool IsAwaitingPong => _pingOutstanding && _heartbeat.PongCount == _pongsAtPing;

    /// <summary>The store lost this client's log and seq restarts at 1: the write loop must accept seq 1 again.</summary>
    public void RestartSequence()
    {
        if (!_queue.Writer.TryWrite(new Outbound(default, null, RestartSeq: true)) && _closeCode < 0)
        {
            RequestClose(CloseCodes.PolicyViolation, "send backlog exceeded", dropQueued: true);
        }
    }

    /// <summary>Runs the connection until it is closed or broken: welcome, replay, then live traffic.</summary>
    public async Task RunAsync(Welcome welcome, IReadOnlyList<LogEntry> replay, long lastSentSeq, bool sendWelcome = true)
    {
        _lastSentSeq = lastSentSeq;
        var writer = WriteLoopAsync(sendWelcome ? welcome : null, replay);
        try
        {
            await ReadLoopAsync();
        }
        finally
        {
            // Whatever ended the reads, the write loop must end too: with a close frame if the socket still allows one.
            RequestClose(_peerCloseCode >= 0 ? _peerCloseCode : CloseCodes.Normal, string.Empty);
            await writer;
            if (_socket.State != WebSocketState.Closed)
            {
                _socket.Abort();
            }

        }
    }

    /// <summary>
    /// Queues a reply to the client's own frame. It waits for space: a client that floods without reading is slowed
    /// down by its own backlog (TCP pushes back on it), not closed. False once the connection is closing.
    /// </summary>
    private async ValueTask<bool> ReplyAsync<TState>(TState state, Action<IBufferWriter<byte>, TState> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        write(buffer, state);
        try
        {
            await _queue.Writer.WriteAsync(new Outbound(buffer.WrittenMemory, null), _closing.Token);
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            return false;
        }
    }

    private async Task PingAsync()
    {
        try
        {
            await _heartbeat.SendPingAsync();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // A ping that cannot be written is a ping that gets no pong: the next tick drops the client.
        }
    }

    private async Task AbortIfStuckAsync()
    {
        await Task.Delay(CloseTimeout);
        if (_socket.State != WebSocketState.Closed)
        {
            _socket.Abort();
        }
    }

    /// <summary>An item of the send queue: a ready frame, a log entry to deliver in seq order, or a seq restart.</summary>
    private readonly record struct Outbound(ReadOnlyMemory<byte> Frame, LogEntry? Entry, bool RestartSeq = false);
}
