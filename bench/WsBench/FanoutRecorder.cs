using System.Diagnostics;
using System.Text;
using HdrHistogram;

namespace ServerlessWs.Bench;

/// <summary>
/// Records the deliveries of numbered messages to one group's recipients: the latency of each delivery, and per
/// message the moment its last recipient had it. Each message's <c>data</c> is <c>{"t":&lt;send timestamp&gt;,"m":&lt;number&gt;}</c>.
/// Only <c>type</c>, <c>group</c> and the data are read, never <c>seq</c> or <c>gseq</c>, so v1 frames (group
/// messages with <c>seq</c>) and v2 frames (with <c>gseq</c>, contract §5b) are counted alike.
/// </summary>
internal sealed class FanoutRecorder
{
    // Deliveries still arriving keep the drain going; this long without one ends it, as does the cap.
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DrainCap = TimeSpan.FromSeconds(30);

    private readonly byte[] _groupField;
    private readonly long[] _sentAt;
    private readonly long[] _lastArrival;
    private readonly int[] _arrivals;
    private readonly LongConcurrentHistogram _perDelivery = new(1, 600_000_000, 3);
    private long _deliveries;
    private long _outOfOrder;
    private int _joined;
    private int _joinsRefused;

    public FanoutRecorder(string group, int messages)
    {
        // As the server writes it (no spaces, System.Text.Json); the closing quote keeps "room-1" from matching "room-10".
        _groupField = Encoding.UTF8.GetBytes($"\"group\":\"{group}\"");
        _sentAt = new long[messages];
        _lastArrival = new long[messages];
        _arrivals = new int[messages];
    }

    public long Deliveries => Interlocked.Read(ref _deliveries);

    /// <summary>Recipients whose <c>join</c> was acknowledged <c>ok</c>.</summary>
    public int Joined => Volatile.Read(ref _joined);

    /// <summary>Recipients whose <c>join</c> got any other answer.</summary>
    public int JoinsRefused => Volatile.Read(ref _joinsRefused);

    /// <summary>
    /// The receive handler of one recipient. One sender's messages to one group arrive in order (one stream), so a
    /// message numbered at or below one already seen is a duplicate or out of order: counted apart, not as a delivery.
    /// </summary>
    public Action<BenchClient, ReadOnlyMemory<byte>> NewRecipient()
    {
        var last = -1L;
        return (_, memory) =>
        {
            var frame = memory.Span;
            if (frame.IndexOf("\"type\":\"ack\""u8) >= 0)
            {
                if (frame.IndexOf("\"status\":\"ok\""u8) >= 0)
                {
                    Interlocked.Increment(ref _joined);
                }
                else
                {
                    Interlocked.Increment(ref _joinsRefused);
                }

                return;
            }

            var now = Stopwatch.GetTimestamp();
            if (frame.IndexOf("\"type\":\"message\""u8) < 0 || frame.IndexOf(_groupField) < 0
                || Number(frame, "\"m\":"u8) is not { } m || m >= _arrivals.Length || Number(frame, "\"t\":"u8) is not { } sentAt)
            {
                return;
            }

            if (m <= last)
            {
                Interlocked.Increment(ref _outOfOrder);
                return;
            }

            last = m;
            var slot = (int)m;
            // Every recipient writes the same value: no race that matters.
            Volatile.Write(ref _sentAt[slot], sentAt);
            Interlocked.Increment(ref _arrivals[slot]);
            long seen;
            while ((seen = Volatile.Read(ref _lastArrival[slot])) < now && Interlocked.CompareExchange(ref _lastArrival[slot], now, seen) != seen)
            {
            }

            _perDelivery.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(sentAt, now).TotalMicroseconds));
            Interlocked.Increment(ref _deliveries);
        };
    }

    /// <summary>
    /// Waits until <paramref name="expected"/> deliveries arrived, or none arrived for <see cref="Quiet"/>, or
    /// <see cref="DrainCap"/> passed: a server that falls behind is measured, one that delivers nothing fails fast.
    /// </summary>
    public async Task DrainAsync(string label, long expected, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var lastProgress = TimeSpan.Zero;
        var seen = Deliveries;
        for (var poll = 0; seen < expected && clock.Elapsed - lastProgress < Quiet && clock.Elapsed < DrainCap; poll++)
        {
            if (poll % 10 == 0)
            {
                Console.Error.Write($"\r{label}: {seen:N0}/{expected:N0} delivered   ");
            }

            await Task.Delay(50, cancellationToken);
            if (Deliveries != seen)
            {
                seen = Deliveries;
                lastProgress = clock.Elapsed;
            }
        }

        Console.Error.WriteLine($"\r{label}: {seen:N0}/{expected:N0} delivered   ");
    }

    /// <summary>
    /// The figures, read once every recipient is closed. The <paramref name="last"/> percentiles (time until the
    /// last recipient had it) are over the messages that reached every one of <paramref name="recipients"/>;
    /// <c>complete_ratio</c> says how many did.
    /// </summary>
    public Figures Summarize(string prefix, string last, int sent, int recipients)
    {
        var lastArrival = new LongHistogram(1, 600_000_000, 3);
        var complete = 0;
        for (var m = 0; m < sent; m++)
        {
            if (_arrivals[m] >= recipients && recipients > 0)
            {
                complete++;
                lastArrival.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(_sentAt[m], _lastArrival[m]).TotalMicroseconds));
            }
        }

        var expected = (double)sent * recipients;
        return new Figures
        {
            [$"{prefix}.sent"] = sent,
            [$"{prefix}.recipients"] = recipients,
            [$"{prefix}.deliveries"] = Deliveries,
            [$"{prefix}.delivered_ratio"] = expected == 0 ? 0 : Deliveries / expected,
            [$"{prefix}.complete_ratio"] = sent == 0 ? 0 : (double)complete / sent,
            [$"{prefix}.out_of_order"] = Interlocked.Read(ref _outOfOrder),
            [$"{prefix}.{last}_p50_ms"] = lastArrival.GetValueAtPercentile(50) / 1000.0,
            [$"{prefix}.{last}_p99_ms"] = lastArrival.GetValueAtPercentile(99) / 1000.0,
            [$"{prefix}.delivery_p50_ms"] = _perDelivery.GetValueAtPercentile(50) / 1000.0,
            [$"{prefix}.delivery_p99_ms"] = _perDelivery.GetValueAtPercentile(99) / 1000.0,
        };
    }

    /// <summary>The non-negative integer after <paramref name="marker"/>, or null when the marker is absent.</summary>
    private static long? Number(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> marker)
    {
        var at = frame.IndexOf(marker);
        if (at < 0)
        {
            return null;
        }

        long value = 0;
        foreach (var b in frame[(at + marker.Length)..])
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                break;
            }

            value = (value * 10) + (b - '0');
        }

        return value;
    }
}
