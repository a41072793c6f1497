using System.Buffers;
using System.Net.WebSockets;
using ServerlessWs.App.Heartbeat;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

/// <summary>
/// One client's socket: a receive loop that parses and dispatches frames in arrival order (which is what keeps
/// sends in order per sender-recipient pair), and a send pump that owns every send on the socket, fed by a
/// bounded outbox so that a client that stops reading can stall nobody but itself.
/// </summary>
/// <remarks>
/// The pump runs only while there is something to send: an idle connection holds no send loop, only its receive.
/// </remarks>
internal sealed partial class ClientConnection : IThreadPoolWorkItem
{
    // How long a close handshake (or a blocked write) may take before the socket is aborted. Wall-clock on purpose:
    // this bounds I/O, not protocol time.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    // The same for a client the heartbeat drops: it answered no ping for a whole interval (or took no frame), so it is
    // given just long enough to take the close frame, within the contract's two intervals + 1 s (docs/protocol.md §5a).
    private static readonly TimeSpan UnresponsiveCloseTimeout = TimeSpan.FromSeconds(1);

    private const int InitialReceiveBufferBytes = 4096;

    private readonly WebSocket _socket;
    private readonly HeartbeatStream _heartbeat;
    private readonly ConnectionContext _context;
    // Made at the first bad frame: most connections never send one.
    private BadFrameWindow? _badFrames;
    private readonly InboundBudget _budget;
    private SendBudget? _sendBudget;
    private int _invokesInFlight;
    private int _closeCode = -1;
    private string _closeReason = string.Empty;
    private int _peerCloseCode = -1;
    private volatile bool _dropQueued;

    // The outbox and the pump's state, guarded by the outbox itself. The pump is taken from the start: the first one
    // (RunAsync's) sends the opening before anything delivered while the connection was being opened.
    private readonly Queue<Outbound> _outbox = new();
    private long _outboxBytes;
    private bool _pumping = true;
    private bool _outboxClosed;
    private bool _pumpFinished;
    private TaskCompletionSource<bool>? _room;
    private TaskCompletionSource? _finished;
    private Opening? _opening;

    // Written only by the send pump (one at a time): the highest seq handed to the socket (delivery strictly by seq, no duplicates).
    private long _lastSentSeq;

    // Per group, the highest gseq handed to the socket (or owed from, after a join): group → gseq, made at the first
    // join; the broadcast group, of which every connection is a member, has its own field. Guarded by the outbox.
    private Dictionary<string, long>? _groupPositions;
    private long _broadcastPosition;

    // Written only by the heartbeat sweep, one tick at a time.
    private bool _pingOutstanding;
    private int _pongsAtPing;
    private bool _writingAtTick;
    private long _writesDoneAtTick;

    public ClientConnection(WebSocket socket, HeartbeatStream heartbeat, string clientId, long epoch, byte[] tokenHash, ConnectionContext context, string? userId = null)
    {
        TokenHash = tokenHash;
        UserId = userId;
        _socket = socket;
        _heartbeat = heartbeat;
        _context = context;
        ClientId = clientId;
        Epoch = epoch;
        _budget = new InboundBudget(context.Options.FramesPerSecond, context.Time);
        heartbeat.Limit(_budget, context.Options.MaxFragmentsPerMessage, OnAbuse);
    }

    public string ClientId { get; }

    /// <summary>The access token's subject, when client authentication is on.</summary>
    public string? UserId { get; }

    public long Epoch { get; }

    /// <summary>The stored hash of the session's resume token: enough to re-assert the claim, useless to resume it.</summary>
    public byte[] TokenHash { get; }

    /// <summary>The close code this connection ended with, as a metric tag: the code sent or received, or <c>aborted</c>.</summary>
    public string EndReason => _closeCode >= 0 ? _closeCode.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : _peerCloseCode >= 0 ? _peerCloseCode.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : "aborted";

    /// <summary>
    /// Hands a log entry to the send pump (the doorbell). It never waits: a full outbox means the client is not
    /// reading, and it is closed rather than allowed to hold up the sender or grow memory.
    /// </summary>
    public void Deliver(LogEntry entry) => Enqueue(new Outbound(default, entry));

    /// <summary>
    /// Hands a group message to the send pump, with its frame rendered once for every local member. Like
    /// <see cref="Deliver"/> it never waits; a gseq this socket already had is dropped by the pump.
    /// </summary>
    public void DeliverGroup(LogEntry entry, ReadOnlyMemory<byte> frame) => Enqueue(new Outbound(frame, entry));

    /// <summary>
    /// Asks the send pump to read this client's log after the last entry sent and send the rest: doorbells missed
    /// while the node could not hear Redis are delivered now, not at the next one.
    /// </summary>
    public void CatchUp() =>
        Enqueue(new Outbound(default, new LogEntry(long.MaxValue, string.Empty, null, default, 0), CatchUp: true));

    /// <summary>Asks the send pump to read <paramref name="group"/>'s log up to <paramref name="upToGseq"/> and send what this socket has not had.</summary>
    public void CatchUpGroup(string group, long upToGseq) =>
        Enqueue(new Outbound(default, new LogEntry(upToGseq, string.Empty, group, default, 0), CatchUp: true));

    /// <summary>
    /// Starts delivery of <paramref name="group"/> after <paramref name="gseq"/>; false when this socket is already
    /// a member (its position stands: what it is owed stays owed).
    /// </summary>
    public bool StartGroup(string group, long gseq)
    {
        lock (_outbox)
        {
            if (group == Groups.Broadcast)
            {
                _broadcastPosition = gseq;
                return true;
            }

            return (_groupPositions ??= new Dictionary<string, long>(StringComparer.Ordinal)).TryAdd(group, gseq);
        }
    }

    /// <summary>Stops delivery of <paramref name="group"/>; false when this socket was not a member.</summary>
    public bool StopGroup(string group)
    {
        lock (_outbox)
        {
            return _groupPositions?.Remove(group) == true;
        }
    }

    /// <summary>The groups this socket is a local member of (the broadcast group aside), leaving them all: the connection is over.</summary>
    public string[] StopAllGroups()
    {
        lock (_outbox)
        {
            string[] groups = _groupPositions is null ? [] : [.. _groupPositions.Keys];
            _groupPositions = null;
            return groups;
        }
    }

    /// <summary>Groups this socket is a local member of, the broadcast group aside.</summary>
    public string[] JoinedGroups()
    {
        lock (_outbox)
        {
            return _groupPositions is null ? [] : [.. _groupPositions.Keys];
        }
    }

    private void Enqueue(Outbound item)
    {
        if (!TryEnqueue(item, waitForRoom: false, out _) && _closeCode < 0)
        {
            ConnectionLog.ClosingForPolicy(_context.Logger, ClientId, CloseCodes.PolicyViolation, "send backlog exceeded");
            RequestClose(CloseCodes.PolicyViolation, "send backlog exceeded", dropQueued: true);
        }

        _context.Outboxes.EnforceIfOver();
    }

    /// <summary>Bytes waiting in this connection's outbox.</summary>
    public long OutboxBytes
    {
        get
        {
            lock (_outbox)
            {
                return _outboxBytes;
            }
        }
    }

    /// <summary>The node's outboxes passed <c>Ws:NodeOutboxBytes</c> and this one is among the largest: closed with 1008.</summary>
    public void CloseForNodeBudget()
    {
        if (_closeCode < 0)
        {
            ConnectionLog.ClosingForPolicy(_context.Logger, ClientId, CloseCodes.PolicyViolation, "node send backlog exceeded");
            RequestClose(CloseCodes.PolicyViolation, "send backlog exceeded", dropQueued: true);
        }
    }

    /// <summary>
    /// Asks the connection to close with <paramref name="code"/>: frames already queued are sent first (so the frame
    /// that caused a policy close still gets its error), unless <paramref name="dropQueued"/>; then the close frame.
    /// If that cannot finish within the close timeout the socket is aborted. The first request wins.
    /// </summary>
    public void RequestClose(int code, string reason, bool dropQueued = false) => RequestClose(code, reason, dropQueued, CloseTimeout);

    /// <summary>
    /// Closes a connection the node gave up on (<see cref="Heartbeat"/>, or a client past its limits): its queue is
    /// dropped, the close frame goes out after the write in progress if that one ends, and the socket is aborted if
    /// the close has not finished within <see cref="UnresponsiveCloseTimeout"/>, or at once when
    /// <paramref name="writeStuck"/> (a write that has not moved for a whole interval leaves no room for a close frame).
    /// </summary>
    public void CloseUnresponsive(int code, string reason, bool writeStuck = false)
    {
        RequestClose(code, reason, dropQueued: true, UnresponsiveCloseTimeout);
        if (writeStuck)
        {
            _socket.Abort();
        }
    }

    private void RequestClose(int code, string reason, bool dropQueued, TimeSpan abortAfter)
    {
        if (Interlocked.CompareExchange(ref _closeCode, code, -1) != -1)
        {
            return;
        }

        _closeReason = reason;
        _dropQueued = dropQueued;
        bool start;
        lock (_outbox)
        {
            _outboxClosed = true;
            start = !_pumping;
            _pumping = true;
            // Wakes a receive loop that waits for room.
            _room?.TrySetResult(false);
            _room = null;
        }

        if (start)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        _ = AbortIfStuckAsync(abortAfter);
    }

    /// <summary>
    /// One heartbeat tick (docs/protocol.md §5a). <see cref="HeartbeatVerdict.NotReading"/> when a write was in flight
    /// at the previous tick and still is, with none finished since: the client has not taken a frame for a whole
    /// interval, whatever pongs it sends (RFC 6455 lets it send them unasked). <see cref="HeartbeatVerdict.NoPong"/>
    /// when the ping sent at the previous tick got no pong. Otherwise a new ping goes out. A client that never
    /// answered is so timed from its connect.
    /// </summary>
    public HeartbeatVerdict Heartbeat()
    {
        var writing = _heartbeat.IsWriting;
        var writesDone = _heartbeat.WritesDone;
        var stalled = writing && _writingAtTick && writesDone == _writesDoneAtTick;
        _writingAtTick = writing;
        _writesDoneAtTick = writesDone;
        if (stalled)
        {
            return HeartbeatVerdict.NotReading;
        }

        var pongs = _heartbeat.PongCount;
        if (_pingOutstanding && pongs == _pongsAtPing)
        {
            return HeartbeatVerdict.NoPong;
        }

        _pingOutstanding = true;
        _pongsAtPing = pongs;
        _ = PingAsync();
        return HeartbeatVerdict.Alive;
    }

    /// <summary>Drops the socket at once, without a close handshake.</summary>
    public void Abort() => _socket.Abort();

    /// <summary>The store lost this client's log and seq restarts at 1: the send pump must accept seq 1 again.</summary>
    public void RestartSequence()
    {
        if (!TryEnqueue(new Outbound(default, null, RestartSeq: true), waitForRoom: false, out _) && _closeCode < 0)
        {
            RequestClose(CloseCodes.PolicyViolation, "send backlog exceeded", dropQueued: true);
        }
    }

    /// <summary>
    /// Sets what the first send is: the welcome (none when null) and the replay (direct messages, then each group's),
    /// after which delivery goes on from <paramref name="lastSentSeq"/>, and each group's after its position given to
    /// <see cref="StartGroup"/>. Before <see cref="RunAsync"/>: whatever is delivered meanwhile waits behind it.
    /// </summary>
    public void Open(Welcome? welcome, IReadOnlyList<LogEntry> replay, long lastSentSeq)
    {
        _lastSentSeq = lastSentSeq;
        _opening = new Opening(welcome, replay);
    }

    /// <summary>
    /// Runs the connection until it is closed or broken: the first send (the opening, then what waited), and the
    /// receive loop. Once it is over the socket is closed.
    /// </summary>
    public Task RunAsync()
    {
        // The first pump runs on this thread: the welcome usually goes out before the first await.
        _ = PumpAsync();
        return ReceiveAsync();
    }

    /// <summary>
    /// Queues a reply to the client's own frame. It waits for space: a client that floods without reading is slowed
    /// down by its own backlog (TCP pushes back on it), not closed. False once the connection is closing.
    /// </summary>
    private async ValueTask<bool> ReplyAsync<TState>(TState state, Action<IBufferWriter<byte>, TState> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        write(buffer, state);
        var reply = new Outbound(buffer.WrittenMemory, null);
        while (!TryEnqueue(reply, waitForRoom: true, out var room))
        {
            if (room is null || !await room)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Puts <paramref name="item"/> in the outbox and starts the pump if none runs. False when the connection is
    /// closing, or when the outbox is full: then <paramref name="room"/> (if asked for) completes when there is room
    /// (true) or the connection closes (false).
    /// </summary>
    private bool TryEnqueue(Outbound item, bool waitForRoom, out Task<bool>? room)
    {
        room = null;
        lock (_outbox)
        {
            if (_outboxClosed)
            {
                return false;
            }

            if (_outbox.Count >= _context.Options.SendQueueLimit
                || (_outbox.Count > 0 && _outboxBytes + item.Bytes > _context.Options.SendQueueBytes))
            {
                if (waitForRoom)
                {
                    _room ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    room = _room.Task;
                }

                return false;
            }

            _outbox.Enqueue(item);
            _outboxBytes += item.Bytes;
            _context.Outboxes.Add(item.Bytes);
            if (_pumping)
            {
                return true;
            }

            _pumping = true;
        }

        // On the thread pool, not on the caller's thread (the bus's, for a delivery).
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    void IThreadPoolWorkItem.Execute() => _ = PumpAsync();

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

    private async Task AbortIfStuckAsync(TimeSpan after)
    {
        await Task.Delay(after);
        if (_socket.State != WebSocketState.Closed)
        {
            _socket.Abort();
        }
    }

    /// <summary>
    /// An item of the outbox: a ready frame; a log entry to deliver in seq order (a group's in gseq order, with its
    /// frame when the node rendered it); a group catch-up up to the entry's gseq; or a seq restart.
    /// </summary>
    private readonly record struct Outbound(ReadOnlyMemory<byte> Frame, LogEntry? Entry, bool RestartSeq = false, bool CatchUp = false)
    {
        /// <summary>What it holds against <c>Ws:SendQueueBytes</c>: the frame, or the message's data (a catch-up holds none).</summary>
        public int Bytes => Frame.IsEmpty ? (CatchUp ? 0 : Entry?.Data.Length ?? 0) : Frame.Length;
    }

    /// <summary>What the first pump sends before the outbox: the welcome (unless none is due) and the replay.</summary>
    private sealed record Opening(Welcome? Welcome, IReadOnlyList<LogEntry> Replay);
}

/// <summary>What a heartbeat tick found (<see cref="ClientConnection.Heartbeat"/>).</summary>
internal enum HeartbeatVerdict
{
    /// <summary>Pinged; nothing wrong.</summary>
    Alive,

    /// <summary>The previous ping got no pong: close with 4408.</summary>
    NoPong,

    /// <summary>A frame has waited a whole interval for the client to take it: the client is not reading; close with 1008.</summary>
    NotReading,
}
