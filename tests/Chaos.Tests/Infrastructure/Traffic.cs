using System.Diagnostics;
using System.Globalization;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// Load for the fault scenarios: clients in pairs (sender → recipient), spread over the nodes; each sender sends
/// numbered messages at a steady rate, one in flight, and keeps the numbers the system acknowledged. Whatever was
/// acknowledged (<c>delivered</c> or <c>queued</c>) must reach its recipient exactly once and in order. With
/// <see cref="JoinGroupsAsync"/>, group traffic (<see cref="GroupTraffic"/>) runs beside it on the same clients.
/// </summary>
public sealed class Traffic : IAsyncDisposable
{
    private readonly Pair[] _pairs;
    private GroupTraffic? _groups;

    private Traffic(Pair[] pairs) => _pairs = pairs;

    public IEnumerable<ChaosClient> Clients => _pairs.SelectMany(p => new[] { p.Sender, p.Recipient });

    public static async Task<Traffic> ConnectAsync(ChaosCluster cluster, int clients, string prefix)
    {
        using var inFlight = new SemaphoreSlim(64);
        var connects = Enumerable.Range(0, clients).Select(async i =>
        {
            await inFlight.WaitAsync();
            try
            {
                return await ChaosClient.ConnectAsync(string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i:D5}"), cluster.PickNode);
            }
            finally
            {
                inFlight.Release();
            }
        });
        var connected = await Task.WhenAll(connects);
        var pairs = clients / 2;
        return new Traffic([.. Enumerable.Range(0, pairs).Select(i => new Pair(connected[i], connected[pairs + i]))]);
    }

    /// <summary>Adds group traffic over these clients (see <see cref="GroupTraffic.JoinAsync"/>); call before <see cref="RunAsync"/>.</summary>
    public async Task JoinGroupsAsync(string prefix, int groups, int perNode) =>
        _groups = await GroupTraffic.JoinAsync([.. Clients], prefix, groups, perNode);

    /// <summary>
    /// Sends for <paramref name="duration"/> at <paramref name="perSender"/> messages/s per sender (direct and group), and runs
    /// <paramref name="fault"/> once, <paramref name="faultAfter"/> into the run.
    /// </summary>
    public async Task RunAsync(TimeSpan duration, double perSender, TimeSpan faultAfter, Func<Task> fault)
    {
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var senders = _pairs.Select(pair => SendUntilAsync(pair, end, TimeSpan.FromSeconds(1 / perSender))).ToList();
        if (_groups is not null)
        {
            senders.Add(_groups.RunAsync(end, perSender));
        }

        await Task.Delay(faultAfter);
        await fault();
        await Task.WhenAll(senders);
    }

    /// <summary>Waits (bounded) until every acknowledged message has arrived, then counts.</summary>
    public async Task<TrafficTally> SettleAsync(TimeSpan within)
    {
        await Eventually.WithinAsync(
            () => _pairs.All(p => p.Acked.All(n => p.Recipient.Got(p.Sender.ClientId, n))) && (_groups?.AllArrived() ?? true),
            within,
            TimeSpan.FromMilliseconds(100));

        return new TrafficTally(
            Sent: _pairs.Sum(p => p.Acked.Count),
            InDoubt: _pairs.Sum(p => p.InDoubt),
            Received: _pairs.Sum(p => p.Recipient.Received),
            Lost: _pairs.Sum(p => p.Acked.Count(n => !p.Recipient.Got(p.Sender.ClientId, n))),
            Duplicated: _pairs.Sum(p => p.Recipient.Duplicated),
            OutOfOrder: _pairs.Sum(p => p.Recipient.OutOfOrder),
            SeqBreaks: _pairs.Sum(p => p.Recipient.SeqBreaks),
            NotRecovered: Clients.Sum(c => c.NotRecovered),
            Unexpected: _pairs.Sum(p => p.Unexpected),
            Failures: [.. Clients.Where(c => c.Failure is not null).Select(c => $"{c.ClientId}: {c.Failure}")],
            Groups: _groups?.Tally());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in Clients)
        {
            await client.DisposeAsync();
        }
    }

    private static Task SendUntilAsync(Pair pair, long end, TimeSpan interval) =>
        PacedSender.SendUntilAsync(pair, end, interval, n => pair.Sender.SendAsync(pair.Recipient.ClientId, n, TimeSpan.FromSeconds(5)), status => status is "delivered" or "queued");

    private sealed class Pair(ChaosClient sender, ChaosClient recipient) : PacedSender
    {
        public ChaosClient Sender { get; } = sender;

        public ChaosClient Recipient { get; } = recipient;
    }
}

/// <summary>What a run sent and what its recipients' own records say they got.</summary>
public sealed record TrafficTally(
    long Sent,
    long InDoubt,
    long Received,
    long Lost,
    long Duplicated,
    long OutOfOrder,
    long SeqBreaks,
    long NotRecovered,
    long Unexpected,
    IReadOnlyList<string> Failures,
    GroupTally? Groups);
