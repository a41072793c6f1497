using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Redis;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Core.Tests.Cluster;

/// <summary>The registry on a real Redis and on a real 3-master cluster, where the indexes and the sessions live in different slots.</summary>
public abstract class ClusterRegistryTests(IRedisEndpoint redis)
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _prefix = Guid.NewGuid().ToString("N")[..8] + ".";

    private RedisSessionStore Store { get; } = new(redis.Client, Microsoft.Extensions.Options.Options.Create(new WsOptions()), TimeProvider.System);

    private ClusterRegistry Registry => new(redis.Client, Store, TimeProvider.System);

    [Fact]
    public async Task TheRepairIndexesEveryConnectedSessionOnEveryPrimaryOverBoundedRuns()
    {
        var ids = Enumerable.Range(0, 300).Select(i => $"{_prefix}{i}").ToArray();
        foreach (var id in ids)
        {
            await Store.ClaimAsync(id, null, 0, _prefix + "server", None);
        }

        var released = await Store.ClaimAsync(_prefix + "gone", null, 0, _prefix + "server", None);
        await Store.ReleaseAsync(_prefix + "gone", released.Epoch, None);
        var registry = Registry;
        var db = redis.Client.GetDatabase();

        // A small budget per run: the walk resumes where it stopped until it has seen every session.
        for (var run = 0; run < 100 && (await db.SortedSetScoresAsync(RedisKeys.Clients, [.. ids.Select(i => (StackExchange.Redis.RedisValue)i)])).Any(s => s is null); run++)
        {
            await registry.RepairIndexesAsync(maxKeys: 100);
        }

        Assert.All(await db.SortedSetScoresAsync(RedisKeys.Clients, [.. ids.Select(i => (StackExchange.Redis.RedisValue)i)]), score => Assert.Equal(0, score));
        Assert.Equal(ids.Length, await db.SortedSetLengthAsync(RedisKeys.ServerClients(_prefix + "server")));
        Assert.Null(await db.SortedSetScoreAsync(RedisKeys.Clients, _prefix + "gone"));
    }
}

public sealed class ClusterRegistryOnRedisTests(RedisFixture redis) : ClusterRegistryTests(redis), IClassFixture<RedisFixture>;

public sealed class ClusterRegistryOnRedisClusterTests(RedisClusterFixture redis) : ClusterRegistryTests(redis), IClassFixture<RedisClusterFixture>;
