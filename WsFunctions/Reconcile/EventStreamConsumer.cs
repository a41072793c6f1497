using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.Functions.Reconcile;

/// <summary>
/// Feeds <c>ws:events</c> to <see cref="ReconcileOwnership"/> the way the Functions Redis stream trigger would (that
/// extension is not available here, and not on Consumption or Flex plans), and better: an entry is acknowledged
/// only once handled; entries left pending by a dead consumer or a failed attempt are claimed again after
/// <c>Reconcile:ClaimIdleSeconds</c>; after <c>Reconcile:MaxAttempts</c> deliveries an entry is parked in
/// <c>ws:events:dead</c>. It runs for the life of the worker, which is a plain .NET host.
/// </summary>
public sealed partial class EventStreamConsumer(
    ClusterEventFeed feed,
    ReconcileOwnership reconcile,
    IOptions<ReconcileOptions> options,
    TimeProvider time,
    ILogger<EventStreamConsumer> logger) : BackgroundService
{
    private readonly ReconcileOptions _options = options.Value;
    private readonly string _consumer = string.IsNullOrEmpty(options.Value.ConsumerName) ? Environment.MachineName : options.Value.ConsumerName;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var handled = 0;
            try
            {
                handled = await RunOnceAsync();
            }
            catch (StoreUnavailableException e)
            {
                ConsumerFailed(logger, e);
            }

            if (handled == 0)
            {
                await Delay(TimeSpan.FromMilliseconds(_options.PollMilliseconds), stoppingToken);
            }
        }
    }

    /// <summary>One pass: entries due for another attempt first, then new ones. Returns how many were handled.</summary>
    public async Task<int> RunOnceAsync()
    {
        var handled = 0;
        foreach (var entry in await feed.ClaimIdleAsync(_consumer, TimeSpan.FromSeconds(_options.ClaimIdleSeconds), _options.BatchSize))
        {
            handled += await HandleAsync(entry, retry: true) ? 1 : 0;
        }

        foreach (var entry in await feed.ReadNewAsync(_consumer, _options.BatchSize))
        {
            handled += await HandleAsync(entry, retry: false) ? 1 : 0;
        }

        return handled;
    }

    private async Task<bool> HandleAsync(ReceivedEvent entry, bool retry)
    {
        var type = new KeyValuePair<string, object?>("type", entry.TypeName);
        if (entry.Event is null)
        {
            // No attempt can make an unreadable record readable: parked at once.
            await feed.DeadLetterAsync(entry, "not a valid ownership event");
            DeadLettered(logger, entry.Id, "not a valid ownership event");
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "dead"));
            return true;
        }

        if (retry && await feed.DeliveriesAsync(entry.Id) > _options.MaxAttempts)
        {
            await feed.DeadLetterAsync(entry, $"failed {_options.MaxAttempts} times");
            DeadLettered(logger, entry.Id, $"failed {_options.MaxAttempts} times");
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "dead"));
            return true;
        }

        try
        {
            await reconcile.HandleAsync(entry.Id, entry.Event);
            await feed.AcknowledgeAsync(entry.Id);
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "ok"));
            WsMetrics.ReconcileLag.Record(Math.Max(0, time.GetUtcNow().ToUnixTimeMilliseconds() - entry.AppendedAtMs));
            return true;
        }
        catch (StoreUnavailableException e)
        {
            // Left pending: claimed again after the idle time, until it succeeds or is parked.
            HandlingFailed(logger, entry.Id, e);
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "retry"));
            return false;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug, not an outage: the entry is retried like one, then parked, and the consumer goes on.
            HandlingBroke(logger, entry.Id, e);
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "error"));
            return false;
        }
    }

    private async Task Delay(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    [LoggerMessage(3000, LogLevel.Warning, "Reading ws:events failed")]
    private static partial void ConsumerFailed(ILogger logger, Exception exception);

    [LoggerMessage(3001, LogLevel.Warning, "Event {EventId} could not be reconciled; it will be retried")]
    private static partial void HandlingFailed(ILogger logger, string eventId, Exception exception);

    [LoggerMessage(3003, LogLevel.Error, "Event {EventId} broke its handler; it will be retried, then parked")]
    private static partial void HandlingBroke(ILogger logger, string eventId, Exception exception);

    [LoggerMessage(3002, LogLevel.Error, "Event {EventId} parked in ws:events:dead: {Reason}")]
    private static partial void DeadLettered(ILogger logger, string eventId, string reason);
}
