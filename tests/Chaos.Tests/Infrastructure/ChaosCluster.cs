using System.Globalization;
using ServerlessWs.Core.Options;
using ServerlessWs.Functions.Reconcile;
using ServerlessWs.Functions.Tests;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// A system as it runs in production, on one machine: a real redis-server, WsApp nodes as separate processes,
/// and the functions running as the worker runs them: the <c>ws:events</c> consumer as a hosted service and
/// <c>CleanupStaleEntries</c> on a timer (a short lease and period, so a crash is cleaned up in seconds).
/// </summary>
public sealed class ChaosCluster : IAsyncDisposable
{
    private readonly List<NodeProcess> _nodes = [];
    private readonly HashSet<string> _leaving = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task _cleanupLoop = Task.CompletedTask;
    private int _next;

    private ChaosCluster(RedisServer redis, FunctionsHarness functions, int leaseSeconds, TimeSpan cleanupPeriod)
    {
        Redis = redis;
        Functions = functions;
        LeaseSeconds = leaseSeconds;
        CleanupPeriod = cleanupPeriod;
    }

    public RedisServer Redis { get; }

    public FunctionsHarness Functions { get; }

    public IDatabase Db => Functions.Db;

    public int LeaseSeconds { get; }

    public TimeSpan CleanupPeriod { get; }

    public IReadOnlyList<NodeProcess> Nodes => _nodes;

    public IEnumerable<NodeProcess> LiveNodes => _nodes.Where(n => !n.HasExited);

    /// <param name="redisArguments">Extra redis-server arguments, e.g. AOF for a restart that keeps the data.</param>
    public static async Task<ChaosCluster> StartAsync(int nodes, int leaseSeconds = 3, double cleanupSeconds = 1, params string[] redisArguments)
    {
        var redis = await RedisServer.StartAsync(redisArguments);
        var ws = new WsOptions { LeaseSeconds = leaseSeconds };
        var reconcile = new ReconcileOptions { ConsumerName = "chaos", PollMilliseconds = 100, ClaimIdleSeconds = 2 };
        var cluster = new ChaosCluster(redis, await FunctionsHarness.AttachAsync(redis, ws, reconcile), leaseSeconds, TimeSpan.FromSeconds(cleanupSeconds));
        try
        {
            var settings = new Dictionary<string, string>
            {
                ["Ws:LeaseSeconds"] = leaseSeconds.ToString(CultureInfo.InvariantCulture),
                ["Ws:DrainSeconds"] = "2",
            };
            var started = await Task.WhenAll(Enumerable.Range(1, nodes).Select(i => NodeProcess.StartAsync(redis, $"node-{i}", settings)));
            cluster._nodes.AddRange(started);
            await cluster.Functions.Consumer.StartAsync(CancellationToken.None);
            cluster._cleanupLoop = cluster.RunCleanupAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Round-robin over nodes that run and are not being shut down: where a load balancer would send a client.</summary>
    public NodeProcess PickNode()
    {
        lock (_leaving)
        {
            var candidates = _nodes.Where(n => !n.HasExited && !_leaving.Contains(n.ServerId)).ToList();
            return candidates[(int)((uint)Interlocked.Increment(ref _next) % candidates.Count)];
        }
    }

    /// <summary>Takes a node out of the balancer's rotation (before a kill or a drain).</summary>
    public void TakeOutOfRotation(NodeProcess node)
    {
        lock (_leaving)
        {
            _leaving.Add(node.ServerId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _cleanupLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Functions.Consumer.StopAsync(CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        await Functions.DisposeAsync();
        await Redis.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>What the timer trigger does: one cleanup pass per period; a pass that cannot reach Redis waits for the next.</summary>
    private async Task RunCleanupAsync()
    {
        using var timer = new PeriodicTimer(CleanupPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                try
                {
                    await Functions.Cleanup.RunOnceAsync(_stop.Token);
                }
                catch (RedisException)
                {
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
