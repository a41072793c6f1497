using System.Diagnostics;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// One sender of a traffic run and what it recorded: the numbers of its sends that were acked, the ones left in
/// doubt (no ack: the socket broke or the store was unavailable) and the ones answered otherwise.
/// </summary>
public abstract class PacedSender
{
    /// <summary>Written by the sender's one loop; read after it ended.</summary>
    public List<long> Acked { get; } = [];

    public int InDoubt { get; set; }

    public int Unexpected { get; set; }

    /// <summary>
    /// Sends 1, 2, 3… one every <paramref name="interval"/> (from a random phase, so senders do not beat together) until
    /// <paramref name="end"/> (a <see cref="Stopwatch"/> timestamp); a late send does not make the next ones burst.
    /// </summary>
    public static async Task SendUntilAsync(PacedSender sender, long end, TimeSpan interval, Func<long, Task<string?>> send, Func<string, bool> acked)
    {
        var step = (long)(interval.TotalSeconds * Stopwatch.Frequency);
        var next = Stopwatch.GetTimestamp() + (long)(Random.Shared.NextDouble() * step);
        for (long n = 1; Stopwatch.GetTimestamp() < end; n++)
        {
            var wait = next - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
            }

            next = Math.Max(next + step, Stopwatch.GetTimestamp() - Stopwatch.Frequency);
            switch (await send(n))
            {
                case null:
                    sender.InDoubt++;
                    break;
                case var status when acked(status):
                    sender.Acked.Add(n);
                    break;
                default:
                    sender.Unexpected++;
                    break;
            }
        }
    }
}
