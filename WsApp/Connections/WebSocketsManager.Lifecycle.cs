using System.Diagnostics;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

/// <summary>Start (bus subscription, heartbeat), the heartbeat sweep, and graceful drain on shutdown.</summary>
internal sealed partial class WebSocketsManager
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _subscription = await _bus.SubscribeAsync(ServerId, this, cancellationToken);
        await _groups.StartAsync();
        var interval = TimeSpan.FromSeconds(_options.HeartbeatSeconds);
        _heartbeatTimer = _context.Time.CreateTimer(_ => SweepHeartbeats(), null, interval, interval);
        _connectionsGauge = WsMetrics.TrackConnections(ServerId, () => _connections.Count);
        ConnectionLog.Started(_logger, ServerId);
    }

    /// <summary>
    /// One timer for every socket of the node (not one per socket): each tick drops the clients whose previous ping
    /// got no pong, or that took no frame for a whole interval, and pings the others.
    /// </summary>
    private void SweepHeartbeats()
    {
        foreach (var (_, connection) in _connections)
        {
            switch (connection.Heartbeat())
            {
                case HeartbeatVerdict.NoPong:
                    ConnectionLog.HeartbeatTimeout(_logger, connection.ClientId);
                    WsMetrics.HeartbeatTerminations.Add(1);
                    connection.CloseUnresponsive(CloseCodes.HeartbeatTimeout, "heartbeat timeout");
                    break;
                case HeartbeatVerdict.NotReading:
                    ConnectionLog.ClosingForPolicy(_logger, connection.ClientId, CloseCodes.PolicyViolation, "a frame waited a heartbeat interval to be written");
                    WsMetrics.HeartbeatTerminations.Add(1);
                    connection.CloseUnresponsive(CloseCodes.PolicyViolation, "not reading", writeStuck: true);
                    break;
            }
        }
    }

    /// <summary>Whether <paramref name="clientId"/>'s socket here has a ping out with no pong yet.</summary>
    internal bool IsAwaitingPong(string clientId) =>
        _connections.TryGetValue(clientId, out var connection) && connection.IsAwaitingPong;

    /// <summary>Pong frames <paramref name="clientId"/>'s socket here has sent, or -1 when this node holds none.</summary>
    internal int PongCount(string clientId) =>
        _connections.TryGetValue(clientId, out var connection) ? connection.PongCount : -1;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs before the server stops (so before Kestrel waits on open requests): new connects get 503 and open
    /// sockets get 1001, spread over <c>Ws:DrainSeconds</c> so their reconnects do not land on the others at once.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        var connections = _connections.Values.ToArray();
        ConnectionLog.Draining(_logger, connections.Length, _options.DrainSeconds);
        try
        {
            // Wall-clock spacing: draining is an operational delay, not protocol time.
            var spacing = connections.Length == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(_options.DrainSeconds) / connections.Length;
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < connections.Length; i++)
            {
                var due = (spacing * i) - clock.Elapsed;
                if (due > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(due, cancellationToken);
                }

                connections[i].RequestClose(CloseCodes.Draining, "server draining");
            }

            // Close handshakes (each bounded by the close timeout) finish before the server is told to stop.
            while (!_connections.IsEmpty)
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
        foreach (var (_, connection) in _connections)
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

        await _groups.StopAsync();
    }
}
