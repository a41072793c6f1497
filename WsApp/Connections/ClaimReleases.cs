using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Connections;

/// <summary>
/// Gives this node's claims back to the store, fenced by epoch: when a connect fails after its claim, and when a
/// connection ends. A release the store cannot take now is kept and retried when the store comes back.
/// </summary>
internal sealed class ClaimReleases(ISessionStore store, ILogger<ClaimReleases> logger)
{
    // Releases the store could not take (it was unreachable): clientId → epoch, retried when it comes back.
    private readonly ConcurrentDictionary<string, long> _pendingReleases = new(StringComparer.Ordinal);

    /// <summary>Releases a claim; one the store cannot take now is kept and retried when the store comes back.</summary>
    public async Task ReleaseAsync(string clientId, long epoch)
    {
        try
        {
            await store.ReleaseAsync(clientId, epoch, CancellationToken.None);
            _pendingReleases.TryRemove(KeyValuePair.Create(clientId, epoch));
        }
        catch (StoreUnavailableException e)
        {
            ConnectionLog.StoreUnavailable(logger, "release", clientId, e);
            _pendingReleases[clientId] = epoch;
        }
    }

    /// <summary>Retries the releases that failed while the store was unreachable.</summary>
    public async Task RetryAsync()
    {
        foreach (var (clientId, epoch) in _pendingReleases)
        {
            await ReleaseAsync(clientId, epoch);
        }
    }
}
