using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Routing;
using StackExchange.Redis;

namespace ServerlessWs.Functions.Reconcile;

/// <summary>
/// Handles one <c>ws:events</c> entry: keeps the connected-client indexes (<c>ws:clients</c>,
/// <c>ws:{s:id}:clients</c>) and <c>ws:stats</c> in line with the registry, and kicks an old owner again after a
/// takeover in case the first kick was lost. Idempotent: index changes are set operations checked against the
/// registry, and counters move once per event id.
/// </summary>
public sealed class ReconcileOwnership(IConnectionMultiplexer redis, INodeBus bus)
{
    public async Task HandleAsync(StreamEntry entry)
    {
        var type = (string?)entry["type"];
        var clientId = (string?)entry["clientId"];
        var server = (string?)entry["server"];
        switch (type)
        {
            case "claimed" when IsId(clientId) && IsId(server):
                await IndexIfStillOwnedAsync(clientId!, server!);
                break;
            case "takeover" when IsId(clientId) && IsId(server) && IsId((string?)entry["previous"]):
                var previous = (string)entry["previous"]!;
                await Db.SortedSetRemoveAsync(RedisKeys.ServerClients(previous), clientId);
                await IndexIfStillOwnedAsync(clientId!, server!);
                await CountOnceAsync(entry.Id!, StatsFields.Takeovers);
                // The first kick rode on pub/sub and may be lost; a second one for the same epochs is harmless.
                await bus.KickAsync(previous, clientId!, (long)entry["epoch"] - 1, CloseCodes.TakenOver, CancellationToken.None);
                break;
            case "released" when IsId(clientId) && IsId(server):
                await UnindexUnlessOwnedAsync(clientId!, server!);
                break;
            case "server-down" when IsId(server):
                await Db.KeyDeleteAsync(RedisKeys.ServerClients(server!));
                break;
            default:
                throw new FormatException($"Event {entry.Id} is not a valid ownership event.");
        }
    }

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Indexes the id under <paramref name="server"/> only if the registry still says so (events can arrive late).</summary>
    private async Task IndexIfStillOwnedAsync(string clientId, string server)
    {
        if ((string?)await Db.HashGetAsync(RedisKeys.Owner(clientId), "server") == server)
        {
            await Db.SortedSetAddAsync(RedisKeys.ServerClients(server), clientId, 0);
            await Db.SortedSetAddAsync(RedisKeys.Clients, clientId, 0);
        }
    }

    private async Task UnindexUnlessOwnedAsync(string clientId, string server)
    {
        var owner = (string?)await Db.HashGetAsync(RedisKeys.Owner(clientId), "server");
        if (owner != server)
        {
            await Db.SortedSetRemoveAsync(RedisKeys.ServerClients(server), clientId);
        }

        if (string.IsNullOrEmpty(owner))
        {
            await Db.SortedSetRemoveAsync(RedisKeys.Clients, clientId);
        }
    }

    private async Task CountOnceAsync(string eventId, string field)
    {
        if (await Db.StringSetAsync(RedisKeys.Reconciled(eventId), 1, TimeSpan.FromDays(1), When.NotExists))
        {
            await Db.HashIncrementAsync(RedisKeys.Stats, field);
        }
    }

    private static bool IsId(string? value) => value is not null && Identifiers.IsValid(value);
}
