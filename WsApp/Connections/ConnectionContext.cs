using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Connections;

/// <summary>What every connection of a node shares: one instance per node, so a connection carries one reference.</summary>
internal sealed record ConnectionContext(
    WsOptions Options,
    ISessionStore Store,
    MessageRouter Router,
    TimeProvider Time,
    ILogger Logger)
{
    /// <summary>How often the heartbeat sweep runs; a socket's beat is late by at most this (PROTOCOL.md §5a allows 1 s).</summary>
    public static readonly TimeSpan SweepResolution = TimeSpan.FromSeconds(1);

    /// <summary><c>Ws:HeartbeatSeconds</c> in <see cref="Time"/>'s timestamp units.</summary>
    public long HeartbeatPeriod { get; } = Options.HeartbeatSeconds * Time.TimestampFrequency;
}
