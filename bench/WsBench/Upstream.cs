using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using HdrHistogram;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ServerlessWs.Bench;

/// <summary>
/// The upstream scenarios (docs/protocol.md §7), WsApp only: the application's handler is a loopback endpoint in
/// this process that answers at once, and says in its answer how long it took itself, so the time WsApp adds is
/// measured per call rather than guessed.
/// </summary>
internal static class Upstream
{
    /// <summary>
    /// <paramref name="clients"/> clients over the servers send <c>invoke</c>s at <paramref name="rate"/> a second in
    /// all; each result's round trip less the handler's own time (which it reports) is WsApp's overhead.
    /// </summary>
    public static async Task<Figures> InvokeAsync(Target target, int handlerPort, int clients, int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        await using var handler = await Handler.StartAsync(handlerPort, cancellationToken);
        var run = Guid.NewGuid().ToString("N")[..6];
        var roundTrip = new LongConcurrentHistogram(1, 60_000_000, 3);
        var overhead = new LongConcurrentHistogram(1, 60_000_000, 3);
        var ping = new LongConcurrentHistogram(1, 60_000_000, 3);
        var answered = 0L;
        var failed = 0L;
        void OnMessage(BenchClient _, ReadOnlyMemory<byte> frame)
        {
            if (frame.Span.IndexOf("\"pong\""u8) >= 0)
            {
                // The WebSocket round trip alone, on the same sockets at the same time: what an invoke cannot beat.
                ping.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(Number(frame.Span, "\"id\":"u8)).TotalMicroseconds));
                return;
            }

            if (frame.Span.IndexOf("\"result\""u8) < 0)
            {
                Interlocked.Increment(ref failed);
                return;
            }

            var total = (long)Stopwatch.GetElapsedTime(Number(frame.Span, "\"t\":"u8)).TotalMicroseconds;
            roundTrip.RecordValue(Math.Max(1, total));
            overhead.RecordValue(Math.Max(1, total - Number(frame.Span, "\"h\":"u8)));
            Interlocked.Increment(ref answered);
        }

        var handlerCalls = 0L;
        var senders = await ConnectSpreadAsync(target, $"i{run}", clients, OnMessage, cancellationToken);

        long sent;
        string Invoke(int i) => $$$"""{"type":"invoke","event":"bench","id":{{{i}}},"data":{"t":{{{Stopwatch.GetTimestamp()}}}}}""";
        try
        {
            // A warm-up second, not recorded: the nodes' first calls open their connections to the handler.
            var warm = await Scenarios.SendAtRateAsync(senders, Invoke, rate, TimeSpan.FromSeconds(1), cancellationToken);
            await Scenarios.WaitForAsync(() => Interlocked.Read(ref answered) + Interlocked.Read(ref failed) >= warm, TimeSpan.FromSeconds(5), cancellationToken);
            roundTrip.Reset();
            overhead.Reset();
            ping.Reset();
            Interlocked.Exchange(ref answered, 0);
            Interlocked.Exchange(ref failed, 0);
            var callsBefore = handler.Calls;

            // A ping for every five invokes alongside, on the same sockets.
            var pings = Scenarios.SendAtRateAsync(senders, _ => $$$"""{"type":"ping","id":{{{Stopwatch.GetTimestamp()}}}}""", Math.Max(1, rate / 5), duration, cancellationToken);
            sent = await Scenarios.SendAtRateAsync(senders, Invoke, rate, duration, cancellationToken);
            await pings;
            await Scenarios.WaitForAsync(() => Interlocked.Read(ref answered) + Interlocked.Read(ref failed) >= sent, TimeSpan.FromSeconds(5), cancellationToken);
            handlerCalls = handler.Calls - callsBefore;
        }
        finally
        {
            await Scenarios.DisposeAllAsync(senders);
        }

        return new Figures
        {
            ["invoke.sent"] = sent,
            ["invoke.answered_ratio"] = sent == 0 ? 0 : Math.Min(1, (double)Interlocked.Read(ref answered) / sent),
            ["invoke.failed"] = Interlocked.Read(ref failed),
            ["invoke.rtt_p50_ms"] = roundTrip.GetValueAtPercentile(50) / 1000.0,
            ["invoke.rtt_p99_ms"] = roundTrip.GetValueAtPercentile(99) / 1000.0,
            ["invoke.overhead_p50_ms"] = overhead.GetValueAtPercentile(50) / 1000.0,
            ["invoke.overhead_p99_ms"] = overhead.GetValueAtPercentile(99) / 1000.0,
            ["invoke.ping_p50_ms"] = ping.GetValueAtPercentile(50) / 1000.0,
            ["invoke.ping_p99_ms"] = ping.GetValueAtPercentile(99) / 1000.0,
            ["invoke.handler_calls"] = handlerCalls,
        };
    }

    /// <summary>
    /// Durable <c>event</c>s against direct <c>send</c>s in the same run: <paramref name="clients"/> clients over the
    /// servers first send to a partner on the other server at <paramref name="rate"/> a second (the ack's round trip),
    /// then emit events at the same rate (the <c>accepted</c> ack's round trip). Each frame's id is its send time.
    /// </summary>
    public static async Task<Figures> EventAsync(Target target, int clients, int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var sendAck = new LongConcurrentHistogram(1, 60_000_000, 3);
        var accepted = new LongConcurrentHistogram(1, 60_000_000, 3);
        var current = sendAck;
        long acks = 0, accepts = 0, refused = 0;
        void OnMessage(BenchClient _, ReadOnlyMemory<byte> frame)
        {
            var span = frame.Span;
            if (span.IndexOf("\"ack\""u8) < 0)
            {
                // An error (a refused event, a rate limit) counts against the run; delivered messages are ignored.
                if (span.IndexOf("\"error\""u8) >= 0)
                {
                    Interlocked.Increment(ref refused);
                }

                return;
            }

            Volatile.Read(ref current).RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(Number(span, "\"id\":"u8)).TotalMicroseconds));
            Interlocked.Increment(ref span.IndexOf("\"accepted\""u8) >= 0 ? ref accepts : ref acks);
        }

        var half = Math.Max(1, clients / 2);
        var first = await Scenarios.ConnectManyAsync(target.Urls[0], $"e{run}-a", half, OnMessage, cancellationToken);
        var second = await Scenarios.ConnectManyAsync(target.Urls[^1], $"e{run}-b", half, OnMessage, cancellationToken);
        var all = first.Concat(second).ToList();
        long sends, events;
        try
        {
            // Client i sends to its partner on the other server (i < half: a-i to b-i; else b-i to a-i).
            sends = await Scenarios.SendAtRateAsync(
                all,
                i => $$$"""{"type":"send","to":"e{{{run}}}-{{{(i < half ? "b" : "a")}}}-{{{i % half}}}","id":{{{Stopwatch.GetTimestamp()}}},"data":{"n":{{{i}}}}}""",
                rate,
                duration,
                cancellationToken);
            await Scenarios.WaitForAsync(() => Interlocked.Read(ref acks) >= sends, TimeSpan.FromSeconds(5), cancellationToken);
            Volatile.Write(ref current, accepted);
            events = await Scenarios.SendAtRateAsync(
                all,
                i => $$$"""{"type":"event","event":"bench","id":{{{Stopwatch.GetTimestamp()}}},"data":{"n":{{{i}}}}}""",
                rate,
                duration,
                cancellationToken);
            await Scenarios.WaitForAsync(() => Interlocked.Read(ref accepts) + Interlocked.Read(ref refused) >= events, TimeSpan.FromSeconds(5), cancellationToken);
        }
        finally
        {
            await Scenarios.DisposeAllAsync(all);
        }

        var sendP99 = sendAck.GetValueAtPercentile(99) / 1000.0;
        var acceptedP99 = accepted.GetValueAtPercentile(99) / 1000.0;
        return new Figures
        {
            ["event.sends"] = sends,
            ["event.send_acked_ratio"] = sends == 0 ? 0 : Math.Min(1, (double)Interlocked.Read(ref acks) / sends),
            ["event.send_ack_p99_ms"] = sendP99,
            ["event.sent"] = events,
            ["event.accepted"] = Interlocked.Read(ref accepts),
            ["event.accepted_ratio"] = events == 0 ? 0 : Math.Min(1, (double)Interlocked.Read(ref accepts) / events),
            ["event.refused"] = Interlocked.Read(ref refused),
            ["event.accepted_p50_ms"] = accepted.GetValueAtPercentile(50) / 1000.0,
            ["event.accepted_p99_ms"] = acceptedP99,
            ["event.accepted_p99_over_send_p99"] = sendP99 == 0 ? 0 : acceptedP99 / sendP99,
        };
    }

    /// <summary>
    /// The dispatcher's throughput to a handler that answers at once: <paramref name="backlog"/> events are emitted
    /// through the servers while no dispatcher runs (each counted once it is <c>accepted</c>), then the dispatcher
    /// (<paramref name="dispatcherDll"/>, the WsFunctions hosted service in a plain host) starts and drains them to
    /// this tool's handler. Figures: events a second from the first call to the last, and any accepted event that
    /// never reached the handler (lost) or reached it twice.
    /// </summary>
    public static async Task<Figures> DispatchAsync(
        Target target, int handlerPort, string redis, string dispatcherDll, int backlog, TimeSpan limit, CancellationToken cancellationToken)
    {
        await using var handler = await Handler.StartAsync(handlerPort, cancellationToken);
        var run = Guid.NewGuid().ToString("N")[..6];
        var accepted = 0L;
        void OnMessage(BenchClient _, ReadOnlyMemory<byte> frame)
        {
            if (frame.Span.IndexOf("\"accepted\""u8) >= 0)
            {
                Interlocked.Increment(ref accepted);
            }
        }

        // 500 clients over the servers, 10 events a second each: within every per-connection budget.
        var clients = await ConnectSpreadAsync(target, $"d{run}", 500, OnMessage, cancellationToken);

        try
        {
            var rate = 5_000;
            var sent = await Scenarios.SendAtRateAsync(
                clients, i => $$$"""{"type":"event","event":"bench","id":{{{i}}},"data":{"n":{{{i}}}}}""", rate, TimeSpan.FromSeconds(backlog / (double)rate), cancellationToken);
            await Scenarios.WaitForAsync(() => Interlocked.Read(ref accepted) >= sent, TimeSpan.FromSeconds(10), cancellationToken);
        }
        finally
        {
            await Scenarios.DisposeAllAsync(clients);
        }

        var expected = Interlocked.Read(ref accepted);
        var start = new ProcessStartInfo("dotnet", [dispatcherDll]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["Redis__ConnectionString"] = redis;
        start.Environment["Upstream__Url"] = $"http://127.0.0.1:{handlerPort}/handler";
        start.Environment["Upstream__SigningKeys__0"] = "bench-only-signing-key-of-32-characters-or-more";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        using var dispatcher = Process.Start(start) ?? throw new InvalidOperationException("The dispatcher did not start.");
        _ = dispatcher.StandardOutput.ReadToEndAsync(cancellationToken);
        _ = dispatcher.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            // The handler may also hear events an earlier scenario left (no dispatcher ran then): they count as
            // delivered too, so the wait is for at least this scenario's.
            await Scenarios.WaitForAsync(() => handler.Distinct >= expected, limit, cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
        finally
        {
            var cpu = ServerStats.CpuSeconds([dispatcher.Id]);
            dispatcher.Kill();
            await dispatcher.WaitForExitAsync(cancellationToken);
            Console.Error.WriteLine($"dispatch: dispatcher CPU {cpu:F1} s");
        }

        var seconds = handler.Span.TotalSeconds;
        return new Figures
        {
            ["dispatch.accepted"] = expected,
            ["dispatch.delivered"] = handler.Distinct,
            ["dispatch.lost"] = Math.Max(0, expected - handler.Distinct),
            ["dispatch.duplicates"] = handler.Duplicates,
            ["dispatch.events_per_second"] = seconds > 0 ? handler.Distinct / seconds : 0,
        };
    }

    /// <summary><paramref name="count"/> clients spread evenly over the servers (named <c>{prefix}-{server}-{n}</c>), in server order.</summary>
    private static async Task<List<BenchClient>> ConnectSpreadAsync(
        Target target, string prefix, int count, Action<BenchClient, ReadOnlyMemory<byte>> onMessage, CancellationToken cancellationToken)
    {
        var clients = new List<BenchClient>(count);
        for (var n = 0; n < target.Urls.Count; n++)
        {
            var share = (count / target.Urls.Count) + (n < count % target.Urls.Count ? 1 : 0);
            clients.AddRange(await Scenarios.ConnectManyAsync(target.Urls[n], $"{prefix}-{n}", share, onMessage, cancellationToken));
        }

        return clients;
    }

    /// <summary>The digits after <paramref name="marker"/> in <paramref name="frame"/> (0 when absent).</summary>
    private static long Number(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> marker)
    {
        var at = frame.IndexOf(marker);
        return at >= 0 && Utf8Parser.TryParse(frame[(at + marker.Length)..], out long value, out _) ? value : 0;
    }

    /// <summary>
    /// A handler that answers every call at once with <c>{"t":…,"h":…}</c>: the body's <c>t</c> back, and its own time
    /// in µs from the request's arrival at the endpoint to the answer written. It checks no signature (the tests do).
    /// </summary>
    private sealed class Handler : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _ceIds = new(StringComparer.Ordinal);
        private long _calls;
        private long _duplicates;
        private long _firstCall;
        private long _lastCall;

        private Handler(WebApplication app) => _app = app;

        public long Calls => Interlocked.Read(ref _calls);

        /// <summary>Distinct ce-ids called with, and calls that repeated one.</summary>
        public int Distinct => _ceIds.Count;

        public long Duplicates => Interlocked.Read(ref _duplicates);

        /// <summary>From the first call to the last (Stopwatch ticks; 0 before two calls).</summary>
        public TimeSpan Span => Stopwatch.GetElapsedTime(Interlocked.Read(ref _firstCall), Interlocked.Read(ref _lastCall));

        public static async Task<Handler> StartAsync(int port, CancellationToken cancellationToken)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var handler = new Handler(app);
            app.MapPost("/handler", async (HttpContext http) =>
            {
                var started = Stopwatch.GetTimestamp();
                Interlocked.CompareExchange(ref handler._firstCall, started, 0);
                Interlocked.Exchange(ref handler._lastCall, started);
                Interlocked.Increment(ref handler._calls);
                if (!handler._ceIds.TryAdd(http.Request.Headers["ce-id"].ToString(), 0))
                {
                    Interlocked.Increment(ref handler._duplicates);
                }

                using var body = new MemoryStream();
                await http.Request.Body.CopyToAsync(body, cancellationToken);
                var t = Number(body.GetBuffer().AsSpan(0, (int)body.Length), "\"t\":"u8);
                http.Response.ContentType = "application/json";
                var own = (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($$"""{"t":{{t}},"h":{{own}}}"""), cancellationToken);
            });
            await app.StartAsync(cancellationToken);
            return handler;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
