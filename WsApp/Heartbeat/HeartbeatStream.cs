namespace ServerlessWs.App.Heartbeat;

/// <summary>
/// The upgraded stream under one WebSocket, seen by the heartbeat: it counts the pong frames the client sends and
/// can put a ping frame on the wire. <see cref="System.Net.WebSockets.WebSocket"/> offers neither (it answers and
/// swallows control frames itself), and its own keep-alive treats any inbound data as an answer, which the
/// contract does not (docs/protocol.md §5a: only a pong counts).
/// </summary>
/// <remarks>
/// The WebSocket writes each frame with one <c>WriteAsync</c>, so a ping written between two writes under the same
/// lock is always between whole frames.
/// </remarks>
/// <param name="inner">The connection.</param>
/// <param name="early">Bytes of the connection read before it was upgraded: they are read first.</param>
internal sealed class HeartbeatStream(Stream inner, ReadOnlyMemory<byte> early = default) : DuplexStream
{
    // FIN + opcode 0x9 (ping), unmasked (server to client), empty payload.
    private static readonly byte[] PingFrame = [0x89, 0x00];

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private ReadOnlyMemory<byte> _early = early;
    private InboundFrameScanner _scanner;
    private int _pongs;

    // The connection's frame budget and fragment cap, once it has them (Limit); Abuse closes the connection.
    private InboundBudget? _budget;
    private int _maxFragments;
    private Action<string>? _onAbuse;
    private volatile bool _abused;
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Write progress, for the write deadline (docs/protocol.md §5a): writes begun and not finished (waiting for the
    // lock included), and writes finished. A client that does not read stops the second while the first stays up.
    private int _writesInFlight;
    private long _writesDone;

    /// <summary>Pong frames received so far.</summary>
    public int PongCount => Volatile.Read(ref _pongs);

    /// <summary>Whether a frame (or a flush) is being written now: the connection cannot take a close frame before it ends.</summary>
    public bool IsWriting => Volatile.Read(ref _writesInFlight) > 0;

    /// <summary>Writes finished so far; unchanged between two looks while <see cref="IsWriting"/> means no progress.</summary>
    public long WritesDone => Volatile.Read(ref _writesDone);

    public async Task SendPingAsync()
    {
        BeginWrite();
        try
        {
            await _writeLock.WaitAsync();
            try
            {
                await inner.WriteAsync(PingFrame);
                await inner.FlushAsync();
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            EndWrite();
        }
    }

    private void BeginWrite() => Interlocked.Increment(ref _writesInFlight);

    private void EndWrite()
    {
        Interlocked.Increment(ref _writesDone);
        Interlocked.Decrement(ref _writesInFlight);
    }

    /// <summary>
    /// Charges every frame the client sends against <paramref name="budget"/> (docs/protocol.md §5a "Limits"), holds the
    /// reads back while it is in arrears, and calls <paramref name="onAbuse"/> (once) when the client keeps on past it
    /// or sends a message in more than <paramref name="maxFragmentsPerMessage"/> fragments; reads then stop for good.
    /// </summary>
    public void Limit(InboundBudget budget, int maxFragmentsPerMessage, Action<string> onAbuse)
    {
        _budget = budget;
        _maxFragments = maxFragmentsPerMessage;
        _onAbuse = onAbuse;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        // A zero-byte read (how the WebSocket waits on an idle connection) has nothing to scan: it goes straight to
        // the connection, so that the wait holds no state of this stream's.
        buffer.IsEmpty && _early.IsEmpty && _scanner.Violation is null && !_abused
            ? inner.ReadAsync(buffer, cancellationToken)
            : ReadAndScanAsync(buffer, cancellationToken);

    private async ValueTask<int> ReadAndScanAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_budget is { } budget && !_abused && !buffer.IsEmpty)
        {
            // In arrears: the bytes stay in the kernel, and TCP pushes back on the client, until the budget recovers.
            var hold = budget.HoldBeforeRead(out var abusive);
            if (abusive)
            {
                Abuse("frames kept coming past Ws:FramesPerSecond");
            }
            else if (hold > TimeSpan.Zero)
            {
                var holding = budget.Time.GetTimestamp();
                await Task.WhenAny(Task.Delay(hold, budget.Time, CancellationToken.None), _disposed.Task);
                budget.Held(budget.Time.GetElapsedTime(holding));
            }
        }

        if (_abused)
        {
            // The connection is closing with 1008: nothing more of this client's is read (the close timer aborts it).
            await _disposed.Task;
            throw new IOException("The connection was closed for sending past its limits.");
        }

        // RFC 6455 §5.1: an unmasked client frame fails the connection. The WebSocket reads a mask key's worth of
        // header (6 bytes) before it looks at the mask bit, so after an unmasked frame shorter than that it would wait
        // here for bytes the client does not owe it, and the connection would hang open. A length with its top bit
        // set (§5.2) is no length at all. Asked for more bytes after either, the connection is failed here instead
        // (TCP closed, which RFC 6455 §7.1.7 allows).
        if (_scanner.Violation is { } violation)
        {
            throw new IOException($"The client sent {violation}.");
        }

        var read = _early.IsEmpty ? await inner.ReadAsync(buffer, cancellationToken) : ReadEarly(buffer.Span);
        // Reads are never concurrent (the WebSocket holds a receive lock), so the scanner needs no lock of its own.
        var pongs = _scanner.Scan(buffer.Span[..read], out var unseen);
        if (pongs > 0)
        {
            Interlocked.Add(ref _pongs, pongs);
        }

        if (unseen > 0)
        {
            _budget?.TryCharge(unseen);
        }

        if (_budget is not null && _scanner.MostFragments > _maxFragments)
        {
            Abuse($"a message in more than {_maxFragments} fragments");
        }

        return read;
    }

    private void Abuse(string reason)
    {
        if (!_abused)
        {
            _abused = true;
            _onAbuse?.Invoke(reason);
        }
    }

    private int ReadEarly(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, _early.Length);
        _early.Span[..count].CopyTo(buffer);
        _early = _early[count..];
        return count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BeginWrite();
        try
        {
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await inner.WriteAsync(buffer, cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            EndWrite();
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        // Kestrel's upgraded stream may push back in the flush rather than the write.
        BeginWrite();
        try
        {
            await inner.FlushAsync(cancellationToken);
        }
        finally
        {
            EndWrite();
        }
    }

    public override void Flush() => inner.Flush();

    public override bool CanRead => inner.CanRead;

    public override bool CanWrite => inner.CanWrite;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _disposed.TrySetResult();
            inner.Dispose();
            _writeLock.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        _disposed.TrySetResult();
        await inner.DisposeAsync();
        _writeLock.Dispose();
        await base.DisposeAsync();
    }
}
