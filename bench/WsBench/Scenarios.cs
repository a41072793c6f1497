using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace ServerlessWs.Bench;

/// <summary>
/// The benchmark scenarios. Each returns named figures; only loopback servers given on the command line are
/// contacted, and every loop is bounded in count and in time.
/// </summary>
internal static class Scenarios
{
    // Rounds run before the recorded ones of the takeover and resume scenarios.
    private const int WarmUpRounds = 1;

    /// <summary>
    /// connect + memory + idle in one run: RSS of the servers before, N connections opened with a bounded number in
    /// flight (counted once each got its first frame), RSS after a settle, then server CPU and RSS over the hold.
    /// </summary>
    public static async Task<Figures> IdleAsync(Target target, int connections, int inFlight, TimeSpan settle, TimeSpan hold, CancellationToken cancellationToken)
    {
        var figures = new Figures();
        var rssBefore = ServerStats.RssKiB(target.ServerPids);
        var (clients, failed, elapsed) = await ConnectManyAsync(target, "idle", connections, inFlight, null, cancellationToken);
        try
        {
            figures["connect.per_second"] = clients.Count / elapsed.TotalSeconds;
            figures["connect.failed"] = failed;
            await Task.Delay(settle, cancellationToken);
            var rssSettled = ServerStats.RssKiB(target.ServerPids);
            figures["memory.kib_per_connection"] = (rssSettled - rssBefore) / Math.Max(1, clients.Count);
            var cpuBefore = ServerStats.CpuSeconds(target.ServerPids);
            await Progress.WaitAsync("idle hold", hold, cancellationToken);
            figures["idle.cpu_seconds"] = ServerStats.CpuSeconds(target.ServerPids) - cpuBefore;
            figures["memory.kib_per_connection_after_hold"] = (ServerStats.RssKiB(target.ServerPids) - rssBefore) / Math.Max(1, clients.Count);
            figures["idle.connections_open"] = clients.Count(c => !c.Closed.Task.IsCompleted);
        }
        finally
        {
            await DisposeAllAsync(clients);
        }

        return figures;
    }

    /// <summary>
    /// Pairs with the sender on the first server and the recipient on the second; the total rate is spread over
    /// the senders; each payload carries its send time. Delivered share and latency percentiles.
    /// </summary>
    public static async Task<Figures> RouteAsync(Target target, int pairs, int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var latency = new LongConcurrentHistogram(1, 60_000_000, 3);
        var received = 0L;
        void OnMessage(BenchClient _, ReadOnlyMemory<byte> frame)
        {
            if (SentAt(frame.Span) is { } sentAt)
            {
                latency.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(sentAt).TotalMicroseconds));
                Interlocked.Increment(ref received);
            }
        }

        var recipients = await ConnectManyAsync(target.Urls[^1], $"r{run}", pairs, OnMessage, cancellationToken);
        var senders = await ConnectManyAsync(target.Urls[0], $"s{run}", pairs, null, cancellationToken);
        long sent;
        try
        {
            sent = await SendAtRateAsync(
                senders, i => $$$"""{"type":"send","to":"r{{{run}}}-{{{i}}}","data":{"t":{{{Stopwatch.GetTimestamp()}}}}}""", rate, duration, cancellationToken);
            // Stragglers: everything still in flight gets two seconds.
            await WaitForAsync(() => Interlocked.Read(ref received) >= sent, TimeSpan.FromSeconds(2), cancellationToken);
        }
        finally
        {
            // Closed before the figures are read: no receive loop records into the histogram while it is read.
            await DisposeAllAsync(senders.Concat(recipients));
        }

        return new Figures
        {
            ["route.sent"] = sent,
            ["route.delivered_ratio"] = sent == 0 ? 0 : Math.Min(1, (double)Interlocked.Read(ref received) / sent),
            ["route.p50_ms"] = latency.GetValueAtPercentile(50) / 1000.0,
            ["route.p99_ms"] = latency.GetValueAtPercentile(99) / 1000.0,
            ["route.p999_ms"] = latency.GetValueAtPercentile(99.9) / 1000.0,
            ["route.max_ms"] = latency.GetMaxValue() / 1000.0,
        };
    }

    /// <summary>The rate stepped up until fewer than 99% arrive or p99 passes 250 ms; the highest that passed.</summary>
    public static async Task<Figures> MaxAsync(Target target, int pairs, int[] rates, TimeSpan step, CancellationToken cancellationToken)
    {
        var best = 0;
        var figures = new Figures();
        foreach (var rate in rates)
        {
            var result = await RouteAsync(target, pairs, rate, step, cancellationToken);
            var passed = result["route.delivered_ratio"] >= 0.99 && result["route.p99_ms"] <= 250;
            Console.Error.WriteLine($"max: {rate} msg/s -> delivered {result["route.delivered_ratio"]:P1}, p99 {result["route.p99_ms"]:F1} ms {(passed ? "pass" : "fail")}");
            figures[$"max.step_{rate}.p99_ms"] = result["route.p99_ms"];
            if (!passed)
            {
                break;
            }

            best = rate;
        }

        figures["max.sustained_per_second"] = best;
        return figures;
    }

    /// <summary>
    /// WsApp only: resume on the other node until the old socket got 4000 and the new one its welcome. A warm-up
    /// round comes first, not recorded: the first takeover these processes serve (their code paths compiled on first use).
    /// </summary>
    public static async Task<Figures> TakeoverAsync(Target target, int rounds, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var histogram = new LongHistogram(1, 60_000_000, 3);
        for (var i = -WarmUpRounds; i < rounds; i++)
        {
            await using var old = await BenchClient.ConnectAsync(Url(target.Urls[0], $"t{run}-{i}"), null, cancellationToken);
            var token = Field(old.Welcome!, "resumeToken");
            var started = Stopwatch.GetTimestamp();
            await using var taken = await BenchClient.ConnectAsync(Url(target.Urls[^1], $"t{run}-{i}", $"&resumeToken={token}"), null, cancellationToken);
            var code = await old.Closed.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            if (i >= 0)
            {
                histogram.RecordValue((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }

            if (code != (System.Net.WebSockets.WebSocketCloseStatus)4000)
            {
                throw new InvalidOperationException($"takeover closed the old socket with {code}, not 4000");
            }
        }

        return new Figures { ["takeover.p50_ms"] = histogram.GetValueAtPercentile(50) / 1000.0, ["takeover.p99_ms"] = histogram.GetValueAtPercentile(99) / 1000.0 };
    }

    /// <summary>
    /// WsApp only: 100 messages queued while away, then a resume on the other node until all are replayed. A warm-up
    /// round comes first, not recorded, as for the takeover.
    /// </summary>
    public static async Task<Figures> ResumeAsync(Target target, int rounds, int missed, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var histogram = new LongHistogram(1, 60_000_000, 3);
        for (var i = -WarmUpRounds; i < rounds; i++)
        {
            // A sender per round: one sender for every round would soon be held to WsApp's per-connection frame rate.
            await using var sender = await BenchClient.ConnectAsync(Url(target.Urls[0], $"rs{run}-{i}"), null, cancellationToken);
            var id = $"rr{run}-{i}";
            var first = await BenchClient.ConnectAsync(Url(target.Urls[0], id), null, cancellationToken);
            var token = Field(first.Welcome!, "resumeToken");
            await first.DisposeAsync();
            await Task.Delay(50, cancellationToken);
            for (var n = 0; n < missed; n++)
            {
                await sender.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"send","to":"{{id}}","data":{{n}}}"""));
            }

            await Task.Delay(200, cancellationToken);
            var replayed = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var started = Stopwatch.GetTimestamp();
            await using var back = await BenchClient.ConnectAsync(
                Url(target.Urls[^1], id, $"&resumeToken={token}&lastSeq=0"),
                (_, _) =>
                {
                    if (Interlocked.Increment(ref replayed) == missed)
                    {
                        done.TrySetResult();
                    }
                },
                cancellationToken);
            await done.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            if (i >= 0)
            {
                histogram.RecordValue((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }
        }

        return new Figures { ["resume.p50_ms"] = histogram.GetValueAtPercentile(50) / 1000.0, ["resume.p99_ms"] = histogram.GetValueAtPercentile(99) / 1000.0 };
    }

    /// <summary>
    /// Opens connections spread over the servers, at most <paramref name="inFlight"/> at once; client i gets the
    /// receive handler <paramref name="onMessage"/>(i), if any.
    /// </summary>
    public static async Task<(List<BenchClient> Clients, int Failed, TimeSpan Elapsed)> ConnectManyAsync(
        Target target, string prefix, int count, int inFlight, Func<int, Action<BenchClient, ReadOnlyMemory<byte>>>? onMessage, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var clients = new ConcurrentBag<BenchClient>();
        var failed = 0;
        using var gate = new SemaphoreSlim(inFlight);
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                clients.Add(await BenchClient.ConnectAsync(Url(target.Urls[i % target.Urls.Count], $"{prefix}{run}-{i}"), onMessage?.Invoke(i), timeout.Token));
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or OperationCanceledException or IOException)
            {
                Interlocked.Increment(ref failed);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Progress.TrackAsync("connect", tasks, () => clients.Count, count);
        return ([.. clients], failed, clock.Elapsed);
    }

    /// <summary>Waits, polling every 20 ms, until <paramref name="done"/> or <paramref name="limit"/> has passed.</summary>
    public static async Task WaitForAsync(Func<bool> done, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (!done() && deadline.Elapsed < limit)
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    public static async Task<List<BenchClient>> ConnectManyAsync(Uri baseUrl, string prefix, int count, Action<BenchClient, ReadOnlyMemory<byte>>? onMessage, CancellationToken cancellationToken)
    {
        var clients = new List<BenchClient>(count);
        for (var i = 0; i < count; i += 64)
        {
            var batch = Enumerable.Range(i, Math.Min(64, count - i)).Select(n => BenchClient.ConnectAsync(Url(baseUrl, $"{prefix}-{n}"), onMessage, cancellationToken));
            clients.AddRange(await Task.WhenAll(batch));
        }

        return clients;
    }

    /// <summary>
    /// Each sender sleeps until its own next send is due (start + n / its rate), so the load tool wakes once per
    /// message rather than polling; senders are staggered so their sends do not come in bursts. Sender i sends
    /// <paramref name="frame"/>(i), made at the moment of sending (so a timestamp in it is the send's).
    /// </summary>
    public static async Task<long> SendAtRateAsync(List<BenchClient> senders, Func<int, string> frame, int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(senders.Count / (double)rate);
        var sent = 0L;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(senders.Select(async (sender, i) =>
        {
            var next = interval * ((double)i / senders.Count);
            while (next < duration && !cancellationToken.IsCancellationRequested)
            {
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, cancellationToken);
                }

                await sender.SendAsync(Encoding.UTF8.GetBytes(frame(i)));
                Interlocked.Increment(ref sent);
                next += interval;
            }
        }));
        return sent;
    }

    /// <summary>The send timestamp in a <c>message</c> frame's data, or null for any other frame.</summary>
    private static long? SentAt(ReadOnlySpan<byte> frame)
    {
        var marker = "\"t\":"u8;
        var at = frame.IndexOf(marker);
        if (at < 0 || frame.IndexOf("\"message\""u8) < 0)
        {
            return null;
        }

        var digits = frame[(at + marker.Length)..];
        long value = 0;
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                break;
            }

            value = (value * 10) + (b - '0');
        }

        return value;
    }

    private static string Field(string json, string name)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty(name).GetString()!;
    }

    public static Uri Url(Uri baseUrl, string clientId, string extra = "") => new($"{baseUrl}?clientId={clientId}{extra}");

    public static async Task DisposeAllAsync(IEnumerable<BenchClient> clients)
    {
        foreach (var chunk in clients.Chunk(256))
        {
            await Task.WhenAll(chunk.Select(c => c.DisposeAsync().AsTask()));
        }
    }
}

/// <summary>The servers under test: their WebSocket URLs and process ids (for RSS and CPU).</summary>
internal sealed record Target(string System, IReadOnlyList<Uri> Urls, IReadOnlyList<int> ServerPids);

/// <summary>Named results of a scenario.</summary>
internal sealed class Figures : Dictionary<string, double>
{
    public Figures()
        : base(StringComparer.Ordinal)
    {
    }
}
