namespace ServerlessWs.App.Connections;

/// <summary>
/// The bytes waiting in every outbox of the node against <c>Ws:NodeOutboxBytes</c> (docs/protocol.md §5a). Each
/// connection is bounded on its own (<c>Ws:SendQueueBytes</c>), but many clients that stop reading together could
/// still hold the node's memory; past the node's budget the largest outboxes are closed first (1008), until the rest
/// fits. What they missed stays in their logs for a resume.
/// </summary>
internal sealed class OutboxMeter(long budgetBytes, Func<IEnumerable<ClientConnection>> connections, TimeProvider time)
{
    // The scan is over every socket of the node: at most once per this interval, however many deliveries find the
    // budget passed.
    private static readonly TimeSpan EnforceInterval = TimeSpan.FromMilliseconds(100);

    private long _bytes;
    private long _lastEnforced;

    /// <summary>Bytes waiting in the node's outboxes now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);

    /// <summary>After an outbox grew: past the budget, closes the largest outboxes until the rest fits.</summary>
    public void EnforceIfOver()
    {
        if (Bytes <= budgetBytes)
        {
            return;
        }

        var now = time.GetTimestamp();
        var last = Interlocked.Read(ref _lastEnforced);
        if ((last != 0 && time.GetElapsedTime(last, now) < EnforceInterval) || Interlocked.CompareExchange(ref _lastEnforced, now, last) != last)
        {
            return;
        }

        var excess = Bytes - budgetBytes;
        foreach (var (connection, bytes) in connections().Select(c => (c, c.OutboxBytes)).Where(c => c.OutboxBytes > 0).OrderByDescending(c => c.OutboxBytes))
        {
            if (excess <= 0)
            {
                break;
            }

            connection.CloseForNodeBudget();
            excess -= bytes;
        }
    }
}
