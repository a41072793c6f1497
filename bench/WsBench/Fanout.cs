using System.Diagnostics;
using System.Text;

namespace ServerlessWs.Bench;

/// <summary>
/// WsApp only: group fan-out and the admin broadcast (issue 16, contract v2 §5b). Per message, the time until the
/// last recipient has it; per delivery, its latency; the share delivered; server and redis-server CPU per delivery.
/// Every loop is bounded in count and time, and a run in which nothing arrives fails rather than waits.
/// </summary>
internal static class Fanout
{
    // Sends that fall behind their schedule (a slow server answering a slow admin send) stop this long after it ends.
    private static readonly TimeSpan SendSlack = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <paramref name="members"/> members of one group, spread evenly over the servers, and one sender on the first
    /// server that is not a member, sending group messages at <paramref name="rate"/> per second.
    /// </summary>
    public static async Task<Figures> GroupAsync(Target target, int members, int rate, TimeSpan duration, int redisPid, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var group = $"room-{run}";
        var messages = (int)Math.Ceiling(rate * duration.TotalSeconds);
        var recorder = new FanoutRecorder(group, messages);
        var (clients, failed, _) = await Scenarios.ConnectManyAsync(target, "fm", members, 256, _ => recorder.NewRecipient(), cancellationToken);
        BenchClient? sender = null;
        var notDelivered = 0;
        int sent;
        Cpu cpu;
        try
        {
            if (failed > 0)
            {
                throw new InvalidOperationException($"fanout: {failed} of {members} members could not connect.");
            }

            await JoinAsync(clients, group, recorder, cancellationToken);
            // Acks other than `delivered` (`unknown`: the group has no member) and errors (`rate-limited`) are counted.
            var from = await BenchClient.ConnectAsync(
                Scenarios.Url(target.Urls[0], $"fs{run}"),
                (_, frame) =>
                {
                    if (frame.Span.IndexOf("\"status\":\"delivered\""u8) < 0)
                    {
                        Interlocked.Increment(ref notDelivered);
                    }
                },
                cancellationToken);
            sender = from;
            var cpuBefore = Cpu.Read(target, redisPid);
            sent = await PaceAsync(messages, rate, duration + SendSlack, n => from.SendAsync(Encoding.UTF8.GetBytes(
                $$$"""{"type":"send","group":"{{{group}}}","data":{"t":{{{Stopwatch.GetTimestamp()}}},"m":{{{n}}}},"id":{{{n}}}}""")),
                cancellationToken);
            await recorder.DrainAsync("fanout", (long)sent * clients.Count, cancellationToken);
            cpu = Cpu.Read(target, redisPid) - cpuBefore;
        }
        finally
        {
            // Closed before the figures are read: no receive loop records while they are.
            await Scenarios.DisposeAllAsync(sender is null ? clients : clients.Append(sender));
        }

        if (recorder.Deliveries == 0)
        {
            throw new InvalidOperationException(
                $"fanout: none of {sent} group messages reached any of {clients.Count} members ({Volatile.Read(ref notDelivered)} sends not acknowledged `delivered`).");
        }

        var figures = recorder.Summarize("fanout", "last_member", sent, clients.Count);
        figures["fanout.sends_not_delivered"] = Volatile.Read(ref notDelivered);
        cpu.AddPerDelivery(figures, "fanout", recorder.Deliveries, redisPid);
        return figures;
    }

    /// <summary>
    /// <paramref name="connections"/> clients spread over the servers, none in any group, and a broadcast sent the way
    /// the admin API sends it (through WsCore's router on the Redis at <paramref name="redis"/>) at <paramref name="rate"/> per second.
    /// </summary>
    public static async Task<Figures> BroadcastAsync(Target target, string redis, int connections, double rate, TimeSpan duration, int redisPid, CancellationToken cancellationToken)
    {
        var messages = (int)Math.Ceiling(rate * duration.TotalSeconds);
        var recorder = new FanoutRecorder("*", messages);
        await using var admin = AdminSender.Create(redis);
        var (clients, failed, _) = await Scenarios.ConnectManyAsync(target, "bc", connections, 256, _ => recorder.NewRecipient(), cancellationToken);
        var answers = new Dictionary<string, int>(StringComparer.Ordinal);
        int sent;
        Cpu cpu;
        try
        {
            var cpuBefore = Cpu.Read(target, redisPid);
            sent = await PaceAsync(messages, rate, duration + SendSlack, async n =>
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                var data = Encoding.UTF8.GetBytes($$"""{"t":{{Stopwatch.GetTimestamp()}},"m":{{n}}}""");
                var answer = await admin.BroadcastAsync(data, timeout.Token);
                answers[answer] = answers.GetValueOrDefault(answer) + 1;
            }, cancellationToken);
            await recorder.DrainAsync("broadcast", (long)sent * clients.Count, cancellationToken);
            cpu = Cpu.Read(target, redisPid) - cpuBefore;
        }
        finally
        {
            await Scenarios.DisposeAllAsync(clients);
        }

        if (recorder.Deliveries == 0)
        {
            throw new InvalidOperationException(
                $"broadcast: none of {sent} broadcasts reached any of {clients.Count} clients; the router answered " +
                $"{string.Join("; ", answers.Select(a => $"{a.Value} x {a.Key}"))}. docs/protocol.md §5b: a group send to `*` reaches every connected client.");
        }

        var figures = recorder.Summarize("broadcast", "last_client", sent, clients.Count);
        figures["broadcast.connect_failed"] = failed;
        cpu.AddPerDelivery(figures, "broadcast", recorder.Deliveries, redisPid);
        return figures;
    }

    /// <summary>Every client joins <paramref name="group"/>; waits, bounded, until each join was acknowledged.</summary>
    private static async Task JoinAsync(List<BenchClient> clients, string group, FanoutRecorder recorder, CancellationToken cancellationToken)
    {
        var join = Encoding.UTF8.GetBytes($$"""{"type":"join","group":"{{group}}","id":"j"}""");
        foreach (var chunk in clients.Chunk(256))
        {
            await Task.WhenAll(chunk.Select(c => c.SendAsync(join)));
        }

        var clock = Stopwatch.StartNew();
        while (recorder.Joined + recorder.JoinsRefused < clients.Count && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20, cancellationToken);
        }

        if (recorder.Joined < clients.Count)
        {
            throw new InvalidOperationException($"fanout: {recorder.Joined} of {clients.Count} joins acknowledged ok, {recorder.JoinsRefused} refused.");
        }
    }

    /// <summary>
    /// Calls <paramref name="send"/>(n) for n from 0 at n / <paramref name="perSecond"/> seconds after the start, up to
    /// <paramref name="count"/> times and no later than <paramref name="bound"/>; returns how many were sent.
    /// </summary>
    private static async Task<int> PaceAsync(int count, double perSecond, TimeSpan bound, Func<int, Task> send, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var n = 0;
        for (; n < count && clock.Elapsed < bound; n++)
        {
            var wait = TimeSpan.FromSeconds(n / perSecond) - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, cancellationToken);
            }

            await send(n);
        }

        return n;
    }

    /// <summary>CPU seconds of the servers and of redis-server (0 when its pid is not given).</summary>
    private readonly record struct Cpu(double Servers, double Redis)
    {
        public static Cpu Read(Target target, int redisPid) =>
            new(ServerStats.CpuSeconds(target.ServerPids), redisPid > 0 ? ServerStats.CpuSeconds([redisPid]) : 0);

        public static Cpu operator -(Cpu after, Cpu before) => new(after.Servers - before.Servers, after.Redis - before.Redis);

        public void AddPerDelivery(Figures figures, string prefix, long deliveries, int redisPid)
        {
            figures[$"{prefix}.server_cpu_us_per_delivery"] = Servers * 1e6 / Math.Max(1, deliveries);
            if (redisPid > 0)
            {
                figures[$"{prefix}.redis_cpu_us_per_delivery"] = Redis * 1e6 / Math.Max(1, deliveries);
            }
        }
    }
}
