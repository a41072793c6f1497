using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;

namespace ServerlessWs.Functions.Reconcile;

/// <summary>
/// Handles one <c>ws:events</c> record: the registry brings the connected-client indexes and <c>ws:stats</c> in line
/// with the owner hashes, and after a takeover the old owner is kicked again in case the first kick was lost.
/// Idempotent: an event may arrive twice.
/// </summary>
public sealed class ReconcileOwnership(ClusterRegistry registry, INodeBus bus)
{
    public async Task HandleAsync(string eventId, ClusterEvent e)
    {
        await registry.ApplyAsync(eventId, e);
        if (e.Type == ClusterEventType.Takeover)
        {
            // The first kick rode on pub/sub and may be lost; a second one for the same epochs is harmless.
            await bus.KickAsync(e.PreviousServer!, e.ClientId!, e.Epoch - 1, CloseCodes.TakenOver, CancellationToken.None);
        }
    }
}
