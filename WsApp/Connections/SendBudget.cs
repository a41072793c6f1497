namespace ServerlessWs.App.Connections;

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
