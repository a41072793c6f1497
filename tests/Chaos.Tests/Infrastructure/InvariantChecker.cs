using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// Checks docs/design.md's invariants against what Redis holds, what the nodes' sockets are and what the clients recorded.
/// Returns one line per violation (empty when none), so a test reports all of them at once.
/// </summary>
public static class InvariantChecker
{
    /// <summary>
    /// At rest (load stopped, clients settled): every client has one open socket, on the server Redis names as its
    /// owner, whose lease lives; the nodes hold exactly as many sockets as there are clients; the reconciled indexes
    /// agree with the owners; nothing names a server that is gone.
    /// </summary>
    public static async Task<IReadOnlyList<string>> CheckAtRestAsync(ChaosCluster cluster, IReadOnlyCollection<ChaosClient> clients, IEnumerable<string> goneServers)
    {
        var db = cluster.Db;
        var violations = new List<string>();
        foreach (var client in clients)
        {
            if (!client.IsOpen)
            {
                violations.Add($"{client.ClientId}: no open socket ({client.Failure ?? "closed"})");
                continue;
            }

            var owner = (string?)await db.HashGetAsync(RedisKeys.Owner(client.ClientId), "server");
            if (owner is null || owner != client.ServerId)
            {
                violations.Add($"{client.ClientId}: Redis names {owner ?? "nobody"} as owner, the socket is on {client.ServerId}");
            }
            else if (!await db.KeyExistsAsync(RedisKeys.Lease(owner)))
            {
                violations.Add($"{client.ClientId}: owner {owner} has no lease");
            }
        }

        // Invariant 1, from the sockets' side: one live socket per client id, cluster-wide.
        var held = cluster.LiveNodes.Sum(node => EstablishedSockets.OnPort(node.Port));
        if (held != clients.Count)
        {
            violations.Add($"the nodes hold {held} sockets for {clients.Count} clients");
        }

        var connected = (await db.SortedSetRangeByRankAsync(RedisKeys.Clients)).Select(v => (string)v!).ToHashSet(StringComparer.Ordinal);
        foreach (var client in clients.Where(c => !connected.Contains(c.ClientId)))
        {
            violations.Add($"{client.ClientId}: missing from the connected-clients index");
        }

        foreach (var extra in connected.Except(clients.Select(c => c.ClientId), StringComparer.Ordinal))
        {
            violations.Add($"{extra}: in the connected-clients index but not connected");
        }

        foreach (var node in cluster.LiveNodes)
        {
            var indexed = (await db.SortedSetRangeByRankAsync(RedisKeys.ServerClients(node.ServerId))).Select(v => (string)v!).ToHashSet(StringComparer.Ordinal);
            var actual = clients.Where(c => c.ServerId == node.ServerId).Select(c => c.ClientId).ToHashSet(StringComparer.Ordinal);
            if (!indexed.SetEquals(actual))
            {
                violations.Add($"{node.ServerId}: index holds {indexed.Count} ids, {actual.Count} clients are there ({indexed.Except(actual).Concat(actual.Except(indexed)).Count()} differ)");
            }
        }

        foreach (var gone in goneServers)
        {
            violations.AddRange(await StaleEntriesAsync(db, gone));
        }

        return violations;
    }

    /// <summary>What Redis still holds for a server that is gone: all of it must be removed by cleanup.</summary>
    public static async Task<IReadOnlyList<string>> StaleEntriesAsync(IDatabase db, string serverId)
    {
        var stale = new List<string>();
        if (await db.KeyExistsAsync(RedisKeys.Lease(serverId)))
        {
            stale.Add($"{serverId}: lease still there");
        }

        if (await db.SortedSetScoreAsync(RedisKeys.Servers, serverId) is not null)
        {
            stale.Add($"{serverId}: still listed in ws:servers");
        }

        if (await db.SortedSetLengthAsync(RedisKeys.ServerClients(serverId)) is var count and > 0)
        {
            stale.Add($"{serverId}: still indexes {count} clients");
        }

        return stale;
    }
}
