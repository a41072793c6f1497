using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Connections;

/// <summary>What every connection of a node shares: one instance per node, so a connection carries one reference.</summary>
/// <param name="Ended">What the node does once a connection is over and its socket closed (the admission's bookkeeping: map, groups, claim, slot).</param>
internal sealed record ConnectionContext(
    WsOptions Options,
    ISessionStore Store,
    MessageRouter Router,
    TimeProvider Time,
    ILogger Logger,
    LocalGroups Groups,
    Upstream.UpstreamInvoker Upstream,
    OutboxMeter Outboxes,
    Func<ClientConnection, Task> Ended)
{
    /// <summary>
    /// The log reads a node's sockets have in flight at once to fill gaps: after the node could not hear Redis every
    /// socket catches up, and thousands of reads at one moment would time out rather than finish sooner.
    /// </summary>
    public SemaphoreSlim GapReads { get; } = new(MaxGapReads, MaxGapReads);

    public const int MaxGapReads = 64;
}
