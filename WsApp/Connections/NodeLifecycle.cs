using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

/// <summary>
/// The node's life around its sockets: start (bus subscription, broadcast group, heartbeat), the heartbeat sweep,
/// graceful drain on shutdown, and the re-assert of its claims after the store was unreachable.
/// </summary>
internal sealed class NodeLifecycle(
    ISessionStore store,
    INodeBus bus,
    LocalConnections connections,
    LocalGroups groups,
    ClaimReleases releases,
    IOptions<WsOptions> options,
    TimeProvider time,
    ILogger<NodeLifecycle> logger) : IHostedLifecycleService, IDisposable
{
    private readonly WsOptions _options = options.Value;
    private IAsyncDisposable? _subscription;
    private ITimer? _heartbeatTimer;
    private IDisposable? _connectionsGauge;
    private volatile bool _draining;

    public string ServerId => _options.ServerId;

    /// <summary>Whether the node is draining: new connects get 503 and readiness fails.</summary>
    public bool IsDraining => _draining;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _subscription = await bus.SubscribeAsync(ServerId, connections, cancellationToken);
        await groups.StartAsync();
        var interval = TimeSpan.FromSeconds(_options.HeartbeatSeconds);
        _heartbeatTimer = time.CreateTimer(_ => SweepHeartbeats(), null, interval, interval);
        _connectionsGauge = WsMetrics.TrackConnections(ServerId, () => connections.Count);
        ConnectionLog.Started(logger, ServerId);
    }

    /// <summary>
    /// One timer for every socket of the node (not one per socket): each tick drops the clients whose previous ping
    /// got no pong, or that took no frame for a whole interval, and pings the others.
    /// </summary>
    private void SweepHeartbeats()
    {
        foreach (var connection in connections.Enumerate())
        {
            switch (connection.Heartbeat())
            {
                case HeartbeatVerdict.NoPong:
                    ConnectionLog.HeartbeatTimeout(logger, connection.ClientId);
                    WsMetrics.HeartbeatTerminations.Add(1);
                    connection.CloseUnresponsive(CloseCodes.HeartbeatTimeout, "heartbeat timeout");
                    break;
                case HeartbeatVerdict.NotReading:
                    ConnectionLog.ClosingForPolicy(logger, connection.ClientId, CloseCodes.PolicyViolation, "a frame waited a heartbeat interval to be written");
                    WsMetrics.HeartbeatTerminations.Add(1);
                    connection.CloseUnresponsive(CloseCodes.PolicyViolation, "not reading", writeStuck: true);
                    break;
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs before the server stops (so before Kestrel waits on open requests): new connects get 503 and open
    /// sockets get 1001, spread over <c>Ws:DrainSeconds</c> so their reconnects do not land on the others at once.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        var open = connections.Snapshot().ToArray();
        ConnectionLog.Draining(logger, open.Length, _options.DrainSeconds);
        try
        {
            // Wall-clock spacing: draining is an operational delay, not protocol time.
            var spacing = open.Length == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(_options.DrainSeconds) / open.Length;
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < open.Length; i++)
            {
                var due = (spacing * i) - clock.Elapsed;
                if (due > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(due, cancellationToken);
                }

                open[i].RequestClose(CloseCodes.Draining, "server draining");
            }

            // Close handshakes (each bounded by the close timeout) finish before the server is told to stop.
            while (!connections.IsEmpty)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout is up: what is still open is aborted when the server stops.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        // Sockets the drain could not close in time: served on the bare socket, not by Kestrel, so aborted here.
        foreach (var connection in connections.Enumerate())
        {
            connection.Abort();
        }

        if (_heartbeatTimer is not null)
        {
            await _heartbeatTimer.DisposeAsync();
        }

        if (_subscription is not null)
        {
            await _subscription.DisposeAsync();
        }

        await groups.StopAsync();
    }

    /// <summary>
    /// After the store was unreachable: re-asserts the claim of every socket this node holds (one that lost to a
    /// newer claim closes with 4000; one whose entry was lost gets it back, with its groups, and seq restarting) and
    /// retries the releases that failed meanwhile.
    /// </summary>
    public async Task ReassertAllAsync()
    {
        foreach (var connection in connections.Enumerate())
        {
            try
            {
                var outcome = await store.ReassertAsync(connection.ClientId, ServerId, connection.Epoch, connection.TokenHash, CancellationToken.None);
                if (outcome == ReassertOutcome.Lost)
                {
                    connection.RequestClose(CloseCodes.TakenOver, "taken over");
                }
                else if (outcome == ReassertOutcome.Restored)
                {
                    connection.RestartSequence();
                    // The store lost the session's groups with it; the socket still knows them (membership belongs
                    // to the id, so it must outlive the loss as it outlives a resume).
                    foreach (var group in connection.JoinedGroups())
                    {
                        await store.JoinAsync(connection.ClientId, group, CancellationToken.None);
                    }
                }
            }
            catch (StoreUnavailableException e)
            {
                // Still unreachable: the next restore event tries again.
                ConnectionLog.StoreUnavailable(logger, "reassert", connection.ClientId, e);
                return;
            }
        }

        await releases.RetryAsync();
    }

    /// <summary>After a connection to the store came back: each group's doorbells missed meanwhile are read from its log.</summary>
    public Task CatchUpGroupsAsync(bool startOver) => groups.CatchUpAsync(startOver);

    /// <summary>After the node could not hear Redis: each local socket reads its log past what it was sent (doorbells missed meanwhile).</summary>
    public void CatchUpClients()
    {
        foreach (var connection in connections.Enumerate())
        {
            connection.CatchUp();
        }
    }

    public void Dispose()
    {
        _connectionsGauge?.Dispose();
        _heartbeatTimer?.Dispose();
    }
}
