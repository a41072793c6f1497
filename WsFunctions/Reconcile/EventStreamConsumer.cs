using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Telemetry;
using StackExchange.Redis;

namespace ServerlessWs.Functions.Reconcile;

/// <summary>
/// Feeds <c>ws:events</c> to <see cref="ReconcileOwnership"/> the way the Functions Redis stream trigger would (that
/// extension is not available here, and not on Consumption or Flex plans), and better: an entry is acknowledged
/// only once handled; entries left pending by a dead consumer or a failed attempt are claimed again after
/// <c>Reconcile:ClaimIdleSeconds</c>; after <c>Reconcile:MaxAttempts</c> deliveries an entry is parked in
/// <c>ws:events:dead</c>. It runs for the life of the worker, which is a plain .NET host.
/// </summary>
public sealed partial class EventStreamConsumer(
    IConnectionMultiplexer redis,
    ReconcileOwnership reconcile,
    IOptions<ReconcileOptions> options,
    TimeProvider time,
    ILogger<EventStreamConsumer> logger) : BackgroundService
{
    private readonly ReconcileOptions _options = options.Value;
    private readonly string _consumer = string.IsNullOrEmpty(options.Value.ConsumerName) ? Environment.MachineName : options.Value.ConsumerName;

    private bool _groupReady;

    private IDatabase Db => redis.GetDatabase();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var handled = 0;
            try
            {
                handled = await RunOnceAsync();
            }
            catch (RedisException e)
            {
                // NOGROUP after the stream was lost (a Redis restart without persistence): create it again.
                _groupReady = false;
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
        await EnsureGroupAsync();
        var handled = 0;
        var retries = await Db.StreamAutoClaimAsync(
            RedisKeys.Events, ReconcileOptions.Group, _consumer, (long)TimeSpan.FromSeconds(_options.ClaimIdleSeconds).TotalMilliseconds, "0-0", _options.BatchSize);
        foreach (var entry in retries.ClaimedEntries.Where(e => !e.IsNull))
        {
            handled += await HandleAsync(entry, retry: true) ? 1 : 0;
        }

        var fresh = await Db.StreamReadGroupAsync(RedisKeys.Events, ReconcileOptions.Group, _consumer, StreamPosition.NewMessages, _options.BatchSize);
        foreach (var entry in fresh)
        {
            handled += await HandleAsync(entry, retry: false) ? 1 : 0;
        }

        return handled;
    }

    private async Task<bool> HandleAsync(StreamEntry entry, bool retry)
    {
        var type = new KeyValuePair<string, object?>("type", (string?)entry["type"] ?? "?");
        if (retry && await DeliveriesAsync(entry.Id) > _options.MaxAttempts)
        {
            await DeadLetterAsync(entry, $"failed {_options.MaxAttempts} times");
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "dead"));
            return true;
        }

        try
        {
            await reconcile.HandleAsync(entry);
            await Db.StreamAcknowledgeAsync(RedisKeys.Events, ReconcileOptions.Group, entry.Id);
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "ok"));
            WsMetrics.ReconcileLag.Record(LagMilliseconds(entry.Id));
            return true;
        }
        catch (Exception e) when (e is FormatException or RedisException or InvalidCastException)
        {
            // Left pending: claimed again after the idle time, until it succeeds or is parked.
            HandlingFailed(logger, entry.Id!, e);
            WsMetrics.ReconcileEvents.Add(1, type, new("outcome", "retry"));
            return false;
        }
    }

    /// <summary>How long ago the entry was appended: a stream id starts with its append time in Unix ms.</summary>
    private double LagMilliseconds(RedisValue id)
    {
        var text = (string)id!;
        var appendedMs = long.Parse(text.AsSpan(0, text.IndexOf('-', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
        return Math.Max(0, time.GetUtcNow().ToUnixTimeMilliseconds() - appendedMs);
    }

    private async Task<long> DeliveriesAsync(RedisValue id)
    {
        var pending = await Db.StreamPendingMessagesAsync(RedisKeys.Events, ReconcileOptions.Group, 1, RedisValue.Null, id, id);
        return pending.Length == 0 ? 0 : pending[0].DeliveryCount;
    }

    private async Task DeadLetterAsync(StreamEntry entry, string reason)
    {
        NameValueEntry[] fields = [new("id", entry.Id), new("reason", reason), .. entry.Values];
        await Db.StreamAddAsync(RedisKeys.DeadLetters, fields);
        await Db.StreamAcknowledgeAsync(RedisKeys.Events, ReconcileOptions.Group, entry.Id);
        DeadLettered(logger, entry.Id!, reason);
    }

    private async Task EnsureGroupAsync()
    {
        if (_groupReady)
        {
            return;
        }

        try
        {
            // From the start of the stream: events written before this app first ran are reconciled too.
            await Db.StreamCreateConsumerGroupAsync(RedisKeys.Events, ReconcileOptions.Group, "0-0", createStream: true);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Already there.
        }

        _groupReady = true;
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

    [LoggerMessage(3002, LogLevel.Error, "Event {EventId} parked in ws:events:dead: {Reason}")]
    private static partial void DeadLettered(ILogger logger, string eventId, string reason);
}
