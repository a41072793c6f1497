using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>
/// Issue 17's resource budgets, one row per hostile pattern, against a node in its own process with the shipped
/// defaults (but a 2 s heartbeat): the hostile connection gets its documented answer (docs/protocol.md §3, §5a), a
/// bystander's application pings keep being answered within <see cref="BystanderBound"/>, and the node stays within
/// <see cref="CpuBound"/> of a core on average and <see cref="MemoryBound"/> of resident memory above where it started.
/// </summary>
public sealed class ResourceBudgetTests
{
    private static readonly TimeSpan BystanderBound = TimeSpan.FromSeconds(1);
    private const double CpuBound = 0.5;
    private const long MemoryBound = 100L << 20;

    public static TheoryData<string> Patterns => new() { "never-reading ponger", "protocol ping flood", "continuation flood" };

    [Theory]
    [MemberData(nameof(Patterns))]
    public async Task AHostileConnectionGetsItsAnswerWhileTheNodeStaysWithinBudgetAndABystanderIsServed(string pattern)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await NodeProcess.StartAsync(redis, "budget-" + Guid.NewGuid().ToString("N")[..6], new Dictionary<string, string>
        {
            // The ponger is found out by the heartbeat: a short one keeps the row short. The floods need none.
            ["Ws:HeartbeatSeconds"] = pattern == "never-reading ponger" ? "2" : "30",
        });
        using var bystander = await RawConnection.ConnectAsync(node.BaseUri, "clientId=bystander");
        await bystander.ReadMessageAsync(TestClient.Timeout);
        var rssBefore = node.RssBytes;
        var cpuBefore = node.CpuTime;
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var peakRss = rssBefore;
        var sampling = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peakRss = Math.Max(peakRss, node.RssBytes);
                await Task.Delay(100);
            }
        });

        // The bystander pings four times a second throughout (reading all the while, so it answers the heartbeat).
        var latency = TimeSpan.Zero;
        var serving = Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var took = await PingAsync(bystander, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
                latency = took > latency ? took : latency;
                await Task.Delay(250);
            }
        });

        var (inputs, answered) = pattern switch
        {
            "never-reading ponger" => await NeverReadingPongerAsync(node),
            "protocol ping flood" => await FloodAsync(node, [], RawConnection.OpPing, fin: true),
            _ => await FloodAsync(node, RawConnection.MaskedFrame(RawConnection.OpText, fin: false, "{"u8), RawConnection.OpContinuation, fin: false),
        };

        // CPU is averaged over 3 s at least: a cheap attack that ends at once must not be judged on 10 ms ticks.
        var atLeast = TimeSpan.FromSeconds(3) - clock.Elapsed;
        if (atLeast > TimeSpan.Zero)
        {
            await Task.Delay(atLeast);
        }

        await stop.CancelAsync();
        await sampling;
        await serving.WaitAsync(TestClient.Timeout);
        var cores = (node.CpuTime - cpuBefore) / clock.Elapsed;
        var grown = peakRss - rssBefore;
        var violations = (answered ? 0 : 1) + (latency <= BystanderBound ? 0 : 1) + (cores <= CpuBound ? 0 : 1) + (grown <= MemoryBound ? 0 : 1);
        ReliabilityReport.Record(new ScenarioFigures($"5c. hostile budget: {pattern}")
        {
            Clients = 2,
            Violations = violations,
            InputsTried = inputs,
            DocumentedAnswers = answered ? 1 : 0,
            Notes = $"node {cores:0.00} cores (bound {CpuBound}), RSS +{grown >> 20} MiB (bound {MemoryBound >> 20}), bystander's slowest pong {latency.TotalMilliseconds:0} ms (bound {BystanderBound.TotalMilliseconds:0}), over {clock.Elapsed.TotalSeconds:0.0} s",
        });

        Assert.True(answered, $"{pattern}: the hostile connection did not get its documented answer");
        Assert.True(latency <= BystanderBound, $"bystander answered in {latency}");
        Assert.True(cores <= CpuBound, $"the node used {cores:0.00} cores");
        Assert.True(grown <= MemoryBound, $"the node grew {grown >> 20} MiB");
    }

    /// <summary>
    /// A client that never reads but sends a pong every half second, while ~18 MB is sent to it: it must be dropped
    /// (1008: its outbox past <c>Ws:SendQueueBytes</c>, or a frame stuck a whole heartbeat interval), which a send to it
    /// then shows by answering <c>queued</c>.
    /// </summary>
    private static async Task<(long Inputs, bool Answered)> NeverReadingPongerAsync(NodeProcess node)
    {
        using var ponger = await RawConnection.ConnectAsync(node.BaseUri, "clientId=ponger");
        using var prober = await RawConnection.ConnectAsync(node.BaseUri, "clientId=prober");
        await prober.ReadMessageAsync(TestClient.Timeout);
        using var sender = await RawConnection.ConnectAsync(node.BaseUri, "clientId=sender");
        await sender.ReadMessageAsync(TestClient.Timeout);
        using var ponging = new CancellationTokenSource();
        var pongs = Task.Run(async () =>
        {
            while (!ponging.IsCancellationRequested && await ponger.SendFrameAsync(RawConnection.OpPong, "unasked"u8.ToArray()))
            {
                await Task.Delay(500);
            }
        });
        var message = Encoding.UTF8.GetBytes(Frames.Send("ponger", $"\"{new string('x', 60_000)}\""));
        const int sent = 300;
        for (var i = 0; i < sent; i++)
        {
            await sender.SendFrameAsync(RawConnection.OpText, message);
        }

        var dropped = await Eventually.WithinAsync(async () =>
        {
            await prober.SendFrameAsync(RawConnection.OpText, Encoding.UTF8.GetBytes(Frames.Send("ponger", "1", id: "q")));
            while (await prober.ReadMessageAsync(TestClient.Timeout) is { Opcode: RawConnection.OpText } reply)
            {
                var frame = JsonDocument.Parse(reply.Payload).RootElement;
                if (frame.Type() == "ack")
                {
                    return frame.Status() == "queued";
                }
            }

            return false;
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(250));
        await ponging.CancelAsync();
        await pongs.WaitAsync(TestClient.Timeout);
        return (sent, dropped);
    }

    /// <summary>After <paramref name="start"/>, 200,000 empty frames of <paramref name="opcode"/>: the answer is a 1008 close.</summary>
    private static async Task<(long Inputs, bool Answered)> FloodAsync(NodeProcess node, byte[] start, byte opcode, bool fin)
    {
        const int frames = 200_000;
        using var flooder = await RawConnection.ConnectAsync(node.BaseUri, "clientId=flooder");
        await flooder.ReadMessageAsync(TestClient.Timeout);
        var one = RawConnection.MaskedFrame(opcode, fin, []);
        var flood = new byte[start.Length + (one.Length * frames)];
        start.CopyTo(flood, 0);
        for (var i = 0; i < frames; i++)
        {
            one.CopyTo(flood, start.Length + (i * one.Length));
        }

        var writing = Task.Run(async () =>
        {
            try
            {
                for (var offset = 0; offset < flood.Length; offset += 16 * 1024)
                {
                    if (!await flooder.SendRawAsync(flood.AsMemory(offset, Math.Min(16 * 1024, flood.Length - offset))))
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The node stopped reading: the backpressure the contract promises.
            }
        });

        // Read (pongs included) until the close; the node holds reads back past the rate and closes within ~10 s.
        var close = 0;
        while (await flooder.ReadMessageAsync(TimeSpan.FromSeconds(20)) is { } message)
        {
            if (message.Opcode is RawConnection.OpClose or RawConnection.Ended)
            {
                close = message.Opcode == RawConnection.OpClose ? RawConnection.CloseCode(message.Payload) : -1;
                break;
            }
        }

        await writing.WaitAsync(TimeSpan.FromSeconds(30));
        return (frames, close == 1008);
    }

    private static async Task<TimeSpan> PingAsync(RawConnection bystander, string id)
    {
        var clock = Stopwatch.StartNew();
        await bystander.SendFrameAsync(RawConnection.OpText, Encoding.UTF8.GetBytes($$"""{"type":"ping","id":"{{id}}"}"""));
        while (await bystander.ReadMessageAsync(TestClient.Timeout) is { Opcode: RawConnection.OpText } reply)
        {
            if (JsonDocument.Parse(reply.Payload).RootElement.Type() == "pong")
            {
                return clock.Elapsed;
            }
        }

        return TimeSpan.MaxValue;
    }
}
