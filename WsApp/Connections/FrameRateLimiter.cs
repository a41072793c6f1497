namespace ServerlessWs.App.Connections;

/// <summary>
/// Per-connection token bucket for client frames: <c>rate</c> per second, bursts of twice that (docs/protocol.md §5a).
/// A plain struct on the receive path rather than a System.Threading.RateLimiting limiter: no allocation and no
/// replenishment timer per socket, and time comes from the host's <see cref="TimeProvider"/>.
/// </summary>
internal struct FrameRateLimiter(int ratePerSecond, long nowTimestamp)
{
    private readonly double _capacity = ratePerSecond * 2.0;
    private double _tokens = ratePerSecond * 2.0;
    private long _last = nowTimestamp;

    public bool TryTake(TimeProvider time)
    {
        var now = time.GetTimestamp();
        var elapsed = time.GetElapsedTime(_last, now).TotalSeconds;
        _last = now;
        _tokens = Math.Min(_capacity, _tokens + (elapsed * ratePerSecond));
        if (_tokens < 1)
        {
            return false;
        }

        _tokens -= 1;
        return true;
    }
}

/// <summary>
/// Counts bad frames (bad-json, bad-frame, unknown-type) in a sliding window; more than <see cref="Limit"/> within
/// <see cref="Window"/> closes the connection with 1008 (docs/protocol.md §5a).
/// </summary>
internal sealed class BadFrameWindow(TimeProvider time)
{
    public const int Limit = 10;

    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    // Timestamps of the most recent bad frames; never more than Limit + 1.
    private readonly Queue<long> _recent = new(Limit + 1);

    /// <summary>Records one bad frame; true when that makes more than the limit within the window.</summary>
    public bool RecordAndCheckExceeded()
    {
        var now = time.GetTimestamp();
        while (_recent.Count > 0 && time.GetElapsedTime(_recent.Peek(), now) >= Window)
        {
            _recent.Dequeue();
        }

        _recent.Enqueue(now);
        if (_recent.Count > Limit)
        {
            _recent.Dequeue();
            return true;
        }

        return false;
    }
}

/// <summary>
/// Per-connection budget of the bytes a client causes to be stored and sent (docs/protocol.md §5a):
/// <c>Ws:SendBytesPerSecond</c>, bursts of twice that. A send is refused (<c>rate-limited</c>) while the budget is
/// spent. A group send is charged after it is appended, once for each member it reaches: its fan-out is what it
/// costs, so one send to a large group can put the budget into debt that later sends wait out. Made at a
/// connection's first send: most connections never send.
/// </summary>
internal sealed class SendBudget(int bytesPerSecond, long nowTimestamp)
{
    private readonly double _capacity = bytesPerSecond * 2.0;
    private double _bytes = bytesPerSecond * 2.0;
    private long _last = nowTimestamp;

    /// <summary>Whether a send may go now (the budget is not spent).</summary>
    public bool HasRoom(TimeProvider time)
    {
        var now = time.GetTimestamp();
        _bytes = Math.Min(_capacity, _bytes + (time.GetElapsedTime(_last, now).TotalSeconds * bytesPerSecond));
        _last = now;
        return _bytes > 0;
    }

    /// <summary>Charges what a send cost: its data for each recipient it reached (at least one).</summary>
    public void Charge(int dataBytes, long recipients) => _bytes -= (double)Math.Max(1, dataBytes) * Math.Max(1, recipients);
}
