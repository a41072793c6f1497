namespace ServerlessWs.App.Heartbeat;

/// <summary>
/// One connection's inbound frame budget (docs/protocol.md §5a "Limits"): a token bucket of <c>Ws:FramesPerSecond</c>
/// a second, bursts of twice that, charged for every frame the client sends: messages by the receive loop, control
/// frames and continuation fragments by <see cref="HeartbeatStream"/> as their headers go by (the WebSocket
/// answers pings itself, so nothing above the stream would see them). A frame past the budget is still charged: the
/// connection goes into arrears, and the stream stops reading until it is back in credit, so TCP pushes back on the
/// client and its cost to the node stays at its rate. A connection held back more than <see cref="HeldLimit"/>
/// within <see cref="HoldWindow"/> keeps on past its rate and is closed with 1008.
/// </summary>
/// <remarks>
/// A plain class on the receive path rather than a System.Threading.RateLimiting limiter: no replenishment timer per
/// socket, debt allowed, and time from the host's <see cref="TimeProvider"/>. Only the receive path uses it (the
/// stream's reads and the handling of what they carried are sequential), so it takes no lock.
/// </remarks>
internal sealed class InboundBudget(int framesPerSecond, TimeProvider time)
{
    public static readonly TimeSpan HoldWindow = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan HeldLimit = TimeSpan.FromSeconds(5);

    /// <summary>At most one <c>rate-limited</c> answer per this long: a flood must not make the node write an error per frame.</summary>
    public static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(1);

    private readonly double _capacity = framesPerSecond * 2.0;
    private double _tokens = framesPerSecond * 2.0;
    private long _last = time.GetTimestamp();
    private long _windowStart = time.GetTimestamp();
    private TimeSpan _heldInWindow;
    private long? _reportedAt;

    public TimeProvider Time => time;

    /// <summary>Charges <paramref name="frames"/>; false when the budget had no room for them (what they carry is dropped).</summary>
    public bool TryCharge(int frames = 1)
    {
        Refill();
        var had = _tokens >= frames;
        _tokens -= frames;
        return had;
    }

    /// <summary>
    /// How long the next read must wait for the budget to be back in credit (zero when it is); <paramref name="abusive"/>
    /// when waiting that long would hold the reads back more than <see cref="HeldLimit"/> within the current window.
    /// </summary>
    public TimeSpan HoldBeforeRead(out bool abusive)
    {
        abusive = false;
        Refill();
        if (_tokens >= 1)
        {
            return TimeSpan.Zero;
        }

        var hold = TimeSpan.FromSeconds((1 - _tokens) / framesPerSecond);
        var now = time.GetTimestamp();
        if (time.GetElapsedTime(_windowStart, now) >= HoldWindow)
        {
            _windowStart = now;
            _heldInWindow = TimeSpan.Zero;
        }

        abusive = _heldInWindow + hold > HeldLimit;
        return hold;
    }

    /// <summary>Records how long the reads were actually held back (the wait ends on the clock's next tick, not before).</summary>
    public void Held(TimeSpan held) => _heldInWindow += held;

    /// <summary>Whether a dropped frame is the first within <see cref="ReportEvery"/> and gets its <c>rate-limited</c> answer.</summary>
    public bool ShouldReport()
    {
        var now = time.GetTimestamp();
        if (_reportedAt is { } at && time.GetElapsedTime(at, now) < ReportEvery)
        {
            return false;
        }

        _reportedAt = now;
        return true;
    }

    private void Refill()
    {
        var now = time.GetTimestamp();
        var elapsed = time.GetElapsedTime(_last, now).TotalSeconds;
        _last = now;
        _tokens = Math.Min(_capacity, _tokens + (elapsed * framesPerSecond));
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
