using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ServerlessWs.Core.Telemetry;

/// <summary>
/// The one <see cref="Meter"/> and <see cref="ActivitySource"/> of ServerlessWs. Instrument names here are the only
/// source of the names the dashboard queries.
/// </summary>
public static class WsMetrics
{
    public const string Name = "ServerlessWs";

    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    private static readonly ConcurrentDictionary<string, Func<int>> OpenConnections = new(StringComparer.Ordinal);

    /// <summary>
    /// Open WebSocket connections (tag <c>server</c>: the node), observed as a gauge so each export carries the
    /// current count, not a change. Nodes report through <see cref="TrackConnections"/>.
    /// </summary>
    public static readonly ObservableGauge<int> Connections = Meter.CreateObservableGauge(
        "ws.connections",
        () => OpenConnections.Select(node => new Measurement<int>(node.Value(), new KeyValuePair<string, object?>("server", node.Key))),
        "{connection}",
        "Open WebSocket connections");

    /// <summary>Accepted connects (tag <c>resumed</c>).</summary>
    public static readonly Counter<long> Connects =
        Meter.CreateCounter<long>("ws.connects", "{connection}", "Accepted WebSocket connects");

    /// <summary>Connects refused before the upgrade (tag <c>status</c>: the HTTP status).</summary>
    public static readonly Counter<long> Refusals =
        Meter.CreateCounter<long>("ws.refusals", "{connection}", "Connects refused before the upgrade");

    /// <summary>Ended connections (tag <c>close_code</c>, or <c>aborted</c>).</summary>
    public static readonly Counter<long> Disconnects =
        Meter.CreateCounter<long>("ws.disconnects", "{connection}", "Ended WebSocket connections by close code");

    /// <summary>Connections dropped for not answering pings.</summary>
    public static readonly Counter<long> HeartbeatTerminations =
        Meter.CreateCounter<long>("ws.heartbeat.terminations", "{connection}", "Connections dropped by the heartbeat");

    /// <summary>Claims that took a live id from another socket.</summary>
    public static readonly Counter<long> Takeovers =
        Meter.CreateCounter<long>("ws.takeovers", "{connection}", "Takeovers of a live client id");

    /// <summary>Messages routed (tag <c>outcome</c>: delivered, queued, unknown).</summary>
    public static readonly Counter<long> MessagesRouted =
        Meter.CreateCounter<long>("ws.messages.routed", "{message}", "Messages routed by outcome");

    /// <summary>Time from the log append to the socket write.</summary>
    public static readonly Histogram<double> DeliveryLatency =
        Meter.CreateHistogram<double>("ws.delivery.latency", "ms", "Log append to socket write");

    /// <summary>Messages replayed to resuming clients.</summary>
    public static readonly Counter<long> Replayed =
        Meter.CreateCounter<long>("ws.messages.replayed", "{message}", "Messages replayed on resume");

    /// <summary>Calls to Redis that failed (tag <c>operation</c>).</summary>
    public static readonly Counter<long> RedisErrors =
        Meter.CreateCounter<long>("ws.redis.errors", "{error}", "Failed calls to Redis");

    /// <summary>Events of <c>ws:events</c> handled by the reconciler (tags <c>type</c>, <c>outcome</c>: ok, retry, dead).</summary>
    public static readonly Counter<long> ReconcileEvents =
        Meter.CreateCounter<long>("ws.reconcile.events", "{event}", "Ownership events reconciled");

    /// <summary>Time from an event's append to ws:events to its handling by the reconciler.</summary>
    public static readonly Histogram<double> ReconcileLag =
        Meter.CreateHistogram<double>("ws.reconcile.lag", "ms", "Event append to reconciliation");

    /// <summary>Entries of dead servers released by cleanup.</summary>
    public static readonly Counter<long> CleanupRemoved =
        Meter.CreateCounter<long>("ws.cleanup.removed", "{entry}", "Stale entries removed by cleanup");

    /// <summary>
    /// Calls to the application's handler (docs/protocol.md §7), tags <c>kind</c> (invoke, event, lifecycle) and
    /// <c>outcome</c> (ok, failed, timeout, rejected for a call never made; dead for an event parked as a dead letter).
    /// </summary>
    public static readonly Counter<long> UpstreamCalls =
        Meter.CreateCounter<long>("ws.upstream.calls", "{call}", "Calls to the upstream handler by kind and outcome");

    /// <summary>Time of one call to the handler, from the request sent to its answer read (tags as <see cref="UpstreamCalls"/>).</summary>
    public static readonly Histogram<double> UpstreamLatency =
        Meter.CreateHistogram<double>("ws.upstream.latency", "ms", "Upstream handler call time");

    /// <summary>Reports <paramref name="serverId"/>'s open connections in <see cref="Connections"/> until disposed.</summary>
    public static IDisposable TrackConnections(string serverId, Func<int> count)
    {
        OpenConnections[serverId] = count;
        return new Untrack(serverId, count);
    }

    /// <summary>Every instrument above: the set the dashboard must chart (a test holds the two to each other).</summary>
    public static IReadOnlyList<Instrument> All { get; } =
    [
        Connections, Connects, Refusals, Disconnects, HeartbeatTerminations, Takeovers, MessagesRouted, DeliveryLatency,
        Replayed, RedisErrors, ReconcileEvents, ReconcileLag, CleanupRemoved, UpstreamCalls, UpstreamLatency,
    ];

    private sealed class Untrack(string serverId, Func<int> count) : IDisposable
    {
        public void Dispose() => OpenConnections.TryRemove(KeyValuePair.Create(serverId, count));
    }
}
