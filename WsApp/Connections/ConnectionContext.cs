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
    ILogger Logger);
