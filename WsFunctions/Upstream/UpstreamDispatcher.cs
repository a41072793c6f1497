using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.Functions.Upstream;

/// <summary>
/// Delivers the durable upstream events to the application's handler (docs/protocol.md §7): at least once, in order
/// per client, across several dispatchers and their crashes. Each partition is read by the one dispatcher holding its
/// lease; on taking it, that dispatcher first claims every entry left pending (by a dead holder, or by itself after a
/// failure), then reads new ones. A batch is grouped by client: different clients are called concurrently (at most
/// <c>Upstream:DispatchConcurrency</c>), one client's events strictly one after another. A 2xx answer ends an event
/// (acknowledged and deleted); anything else is retried with exponential backoff and jitter up to
/// <c>Upstream:MaxAttempts</c> calls, then parked in the dead-letter stream. An event is never acknowledged otherwise.
/// With <c>Upstream:LifecycleEvents</c> set it also turns the ownership events (<c>ws:events</c>, its own consumer
/// group) into lifecycle events, appended to the client's partition like a client's event.
/// </summary>
public sealed partial class UpstreamDispatcher : BackgroundService
{
    /// <summary>The named <see cref="HttpClient"/> the handler is called with (each call bounded by <c>Upstream:TimeoutSeconds</c> here).</summary>
    public const string ClientName = "upstream-dispatch";

    private readonly UpstreamEventLog _log;
    private readonly ClusterEventFeed _ownership;
    private readonly IHttpClientFactory _http;
    private readonly UpstreamOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UpstreamDispatcher> _logger;
    private readonly SemaphoreSlim _slots;
    private readonly string _consumer;
    private readonly PartitionLease[] _leases;
    private readonly PartitionLease _lifecycleLease;
    private readonly HashSet<string> _lifecycle;

    public UpstreamDispatcher(
        UpstreamEventLog log, ClusterEventFeed ownership, IHttpClientFactory http, IOptions<UpstreamOptions> options, TimeProvider time, ILogger<UpstreamDispatcher> logger)
    {
        _log = log;
        _ownership = ownership.ForUpstream();
        _http = http;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _slots = new SemaphoreSlim(_options.DispatchConcurrency, _options.DispatchConcurrency);
        // One consumer name per machine (a restart takes its pending entries back at once); the lease token is per
        // process, so a restarted dispatcher never mistakes its predecessor's lease for its own.
        _consumer = Environment.MachineName;
        var token = $"{Environment.MachineName}-{Guid.NewGuid():N}";
        var ttl = TimeSpan.FromSeconds(_options.LeaseSeconds);
        _leases = Enumerable.Range(0, _options.Partitions).Select(p => new PartitionLease(log, p, token, ttl, time)).ToArray();
        _lifecycleLease = new PartitionLease(log, null, token, ttl, time);
        _lifecycle = _options.LifecycleEvents.ToHashSet(StringComparer.Ordinal);
    }

    public override void Dispose()
    {
        _slots.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.IsConfigured)
        {
            return;
        }

        var leases = _lifecycle.Count > 0 ? [.. _leases, _lifecycleLease] : _leases;
        var loops = Enumerable.Range(0, _options.Partitions).Select(p => PartitionLoopAsync(p, stoppingToken)).ToList();
        if (_lifecycle.Count > 0)
        {
            loops.Add(LifecycleLoopAsync(stoppingToken));
        }

        loops.Add(RenewLoopAsync(leases, stoppingToken));
        await Task.WhenAll(loops);
        // Given back on the way out, so another dispatcher goes on at once rather than after the lease runs out.
        await Task.WhenAll(leases.Select(l => l.ReleaseAsync()));
    }

    /// <summary>Takes and renews every lease this dispatcher can hold, every third of <c>Upstream:LeaseSeconds</c>.</summary>
    private async Task RenewLoopAsync(PartitionLease[] leases, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.WhenAll(leases.Select(l => l.RenewAsync()));
            await DelayAsync(TimeSpan.FromSeconds(_options.LeaseSeconds / 3.0), stoppingToken);
        }
    }

    private Task PartitionLoopAsync(int partition, CancellationToken stoppingToken) =>
        LeasedLoopAsync(_leases[partition], partition, (claimPending, token) => DispatchOnceAsync(partition, _leases[partition], claimPending, token), stoppingToken);

    /// <summary>
    /// The loop of one lease (a partition's, or the lifecycle reader's, logged as -1): while it is held, one
    /// <paramref name="passAsync"/> after another, claiming what is pending first whenever the lease is freshly
    /// taken or a pass left something undelivered; idle or not held, it polls every <c>Upstream:PollMilliseconds</c>.
    /// </summary>
    private async Task LeasedLoopAsync(
        PartitionLease lease, int logPartition, Func<bool, CancellationToken, Task<(int Handled, bool ClaimPending)>> passAsync, CancellationToken stoppingToken)
    {
        var claimPending = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            var handled = 0;
            if (lease.IsHeld)
            {
                claimPending |= lease.TakeFresh();
                try
                {
                    (handled, claimPending) = await passAsync(claimPending, stoppingToken);
                }
                catch (StoreUnavailableException e)
                {
                    ReadFailed(_logger, logPartition, e);
                    claimPending = true;
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    // Stopping while waiting for a call slot: what is undelivered stays pending for the next holder.
                    return;
                }
            }

            if (handled == 0)
            {
                await DelayAsync(TimeSpan.FromMilliseconds(_options.PollMilliseconds), stoppingToken);
            }
        }
    }

    /// <summary>
    /// One pass over a held partition: what is pending first (when it may be), then new entries. Returns how many
    /// entries it handled and whether pending ones remain to claim (an event was left undelivered).
    /// </summary>
    private async Task<(int Handled, bool ClaimPending)> DispatchOnceAsync(int partition, PartitionLease lease, bool claimPending, CancellationToken stoppingToken)
    {
        var handled = 0;
        while (claimPending)
        {
            var pending = await _log.ClaimPendingAsync(partition, _consumer, _options.BatchSize);
            if (pending.Count == 0)
            {
                claimPending = false;
                break;
            }

            handled += pending.Count;
            if (!await DispatchBatchAsync(pending, lease, stoppingToken))
            {
                return (handled, true);
            }
        }

        var batch = await _log.ReadNewAsync(partition, _consumer, _options.BatchSize);
        handled += batch.Count;
        return (handled, !await DispatchBatchAsync(batch, lease, stoppingToken));
    }

    /// <summary>Delivers a batch: clients concurrently, each client's events in order. False when any was left undelivered.</summary>
    private async Task<bool> DispatchBatchAsync(IReadOnlyList<ReceivedUpstream> batch, PartitionLease lease, CancellationToken stoppingToken)
    {
        if (batch.Count == 0)
        {
            return true;
        }

        var sequences = batch.GroupBy(e => e.Record?.ClientId ?? e.EntryId, StringComparer.Ordinal);
        var results = await Task.WhenAll(sequences.Select(async sequence =>
        {
            await _slots.WaitAsync(stoppingToken);
            try
            {
                foreach (var entry in sequence)
                {
                    // A client's later events wait for its earlier one: left pending, they are claimed again after it.
                    if (!await DeliverAsync(entry, lease, stoppingToken))
                    {
                        return false;
                    }
                }

                return true;
            }
            finally
            {
                _slots.Release();
            }
        }));
        return results.All(delivered => delivered);
    }

    /// <summary>
    /// Calls the handler until it answers 2xx or the attempts run out (then parks the event). False when the event
    /// was left pending: the lease was lost, the dispatcher is stopping, or the store could not take the outcome.
    /// </summary>
    private async Task<bool> DeliverAsync(ReceivedUpstream entry, PartitionLease lease, CancellationToken stoppingToken)
    {
        try
        {
            if (entry.Record is not { } record)
            {
                // No attempt can make an unreadable record readable: parked at once.
                await _log.DeadLetterAsync(entry, "not a valid upstream record", 0);
                DeadLettered(_logger, entry.EntryId, "not a valid upstream record");
                return true;
            }

            var kind = new KeyValuePair<string, object?>("kind", record.Kind == UpstreamKind.User ? "event" : "lifecycle");
            var reason = string.Empty;
            for (var attempt = 1; attempt <= _options.MaxAttempts; attempt++)
            {
                if (!lease.IsHeld || stoppingToken.IsCancellationRequested)
                {
                    return false;
                }

                if (attempt > 1)
                {
                    await DelayAsync(Backoff(attempt - 1), stoppingToken);
                    if (!lease.IsHeld || stoppingToken.IsCancellationRequested)
                    {
                        return false;
                    }
                }

                var (outcome, why) = await CallAsync(record, kind, stoppingToken);
                if (outcome == "ok")
                {
                    await _log.AcknowledgeAsync(entry);
                    return true;
                }

                if (stoppingToken.IsCancellationRequested)
                {
                    return false;
                }

                reason = why;
                CallFailed(_logger, record.CeId, record.ClientId, attempt, why);
            }

            await _log.DeadLetterAsync(entry, reason, _options.MaxAttempts);
            WsMetrics.UpstreamCalls.Add(1, kind, new("outcome", "dead"));
            DeadLettered(_logger, record.CeId, reason);
            return true;
        }
        catch (StoreUnavailableException e)
        {
            // Delivered (perhaps) but not acknowledged: it is claimed again and delivered again with the same ce-id.
            ReadFailed(_logger, entry.Partition, e);
            return false;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>One signed call; the outcome as the metrics name it, and why it failed.</summary>
    private async Task<(string Outcome, string Why)> CallAsync(UpstreamRecord record, KeyValuePair<string, object?> kind, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        var started = _time.GetTimestamp();
        (string Outcome, string Why) result;
        try
        {
            using var request = UpstreamRequest.Create(_options, record, _time.GetUtcNow());
            using var response = await _http.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            result = response.IsSuccessStatusCode ? ("ok", string.Empty) : ("failed", $"the handler answered {status}");
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            result = ("timeout", $"the handler did not answer within {_options.TimeoutSeconds} s");
        }
        catch (HttpRequestException e)
        {
            result = ("failed", "the handler cannot be reached: " + e.Message);
        }

        var outcome = new KeyValuePair<string, object?>("outcome", result.Outcome);
        WsMetrics.UpstreamCalls.Add(1, kind, outcome);
        WsMetrics.UpstreamLatency.Record(_time.GetElapsedTime(started).TotalMilliseconds, kind, outcome);
        return result;
    }

    /// <summary>The wait after the <paramref name="failures"/>th failure: base × 2^(failures-1), capped, half of it random (jitter).</summary>
    private TimeSpan Backoff(int failures)
    {
        var ceiling = Math.Min(_options.RetryMaxMilliseconds, _options.RetryBaseMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30)));
        return TimeSpan.FromMilliseconds((ceiling / 2) + (Random.Shared.NextDouble() * ceiling / 2));
    }

    /// <summary>
    /// Turns ownership events into lifecycle events, one dispatcher at a time (its own lease), in the order of
    /// <c>ws:events</c>: each is appended to its client's partition, then acknowledged; a full partition leaves it
    /// pending (retried, never dropped).
    /// </summary>
    private Task LifecycleLoopAsync(CancellationToken stoppingToken) =>
        LeasedLoopAsync(_lifecycleLease, -1, (claimPending, _) => LifecyclePassAsync(claimPending), stoppingToken);

    /// <summary>One batch of ownership events, pending ones first when <paramref name="claimPending"/>.</summary>
    private async Task<(int Handled, bool ClaimPending)> LifecyclePassAsync(bool claimPending)
    {
        var handled = 0;
        var entries = claimPending
            ? await _ownership.ClaimIdleAsync(_consumer, TimeSpan.Zero, _options.BatchSize)
            : await _ownership.ReadNewAsync(_consumer, _options.BatchSize);
        claimPending = claimPending && entries.Count > 0;
        foreach (var entry in entries)
        {
            if (!_lifecycleLease.IsHeld || !await AppendLifecycleAsync(entry))
            {
                claimPending = true;
                break;
            }

            handled++;
        }

        return (handled, claimPending);
    }

    /// <summary>Appends the lifecycle event of one ownership event (if it maps to a wanted one) and acknowledges it; false when its partition is full.</summary>
    private async Task<bool> AppendLifecycleAsync(ReceivedEvent entry)
    {
        if (Lifecycle(entry) is { } record && _lifecycle.Contains(record.Event) && !await _log.AppendAsync(record))
        {
            return false;
        }

        await _ownership.AcknowledgeAsync(entry.Id);
        return true;
    }

    /// <summary>
    /// The lifecycle event of an ownership event: claimed is <c>connected</c>, takeover <c>takeover</c>, released
    /// <c>disconnected</c>; its ce-id is made from the entry's id, so appending it twice gives the handler the same one.
    /// </summary>
    internal static UpstreamRecord? Lifecycle(ReceivedEvent entry)
    {
        if (entry.Event is not { ClientId: { } clientId } e)
        {
            return null;
        }

        var name = e.Type switch
        {
            ClusterEventType.Claimed => "connected",
            ClusterEventType.Takeover => "takeover",
            ClusterEventType.Released => "disconnected",
            _ => null,
        };
        if (name is null)
        {
            return null;
        }

        var data = JsonSerializer.SerializeToUtf8Bytes(new LifecycleData(e.Server, e.Epoch.ToString(CultureInfo.InvariantCulture), e.PreviousServer), LifecycleJson.Default.LifecycleData);
        return new UpstreamRecord("ev-" + entry.Id, UpstreamKind.Lifecycle, name, clientId, null, e.Server, DateTimeOffset.FromUnixTimeMilliseconds(entry.AppendedAtMs), data);
    }

    private Task DelayAsync(TimeSpan delay, CancellationToken stoppingToken) =>
        Task.Delay(delay, _time, stoppingToken).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    [LoggerMessage(3300, LogLevel.Warning, "Upstream partition {Partition} could not be read or acknowledged; its pending events will be claimed again")]
    private static partial void ReadFailed(ILogger logger, int partition, Exception exception);

    [LoggerMessage(3301, LogLevel.Warning, "Upstream event {CeId} of {ClientId}: attempt {Attempt} failed: {Reason}")]
    private static partial void CallFailed(ILogger logger, string ceId, string clientId, int attempt, string reason);

    [LoggerMessage(3302, LogLevel.Error, "Upstream event {CeId} parked as a dead letter: {Reason}")]
    private static partial void DeadLettered(ILogger logger, string ceId, string reason);
}

/// <summary>The body of a lifecycle event: the server that claimed or released, the claim's epoch (a string: it exceeds what JSON numbers keep exactly), and for a takeover the server that held the id before.</summary>
internal sealed record LifecycleData(string Server, string Epoch, string? PreviousServer);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(
    PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(LifecycleData))]
internal sealed partial class LifecycleJson : System.Text.Json.Serialization.JsonSerializerContext;
