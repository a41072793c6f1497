using System.Diagnostics;
using StackExchange.Redis;

namespace ServerlessWs.Tests.Infrastructure;

/// <summary>
/// A real 3-master Redis Cluster on loopback (no replicas), made with <c>redis-cli --cluster create</c>, for the
/// tests that must hold on Azure Managed Redis's OSS cluster policy: one slot per script, sharded pub/sub.
/// </summary>
public sealed class RedisClusterFixture : IRedisEndpoint, IAsyncLifetime
{
    private readonly List<RedisServer> _nodes = [];
    private DirectoryInfo? _dir;

    public string ConnectionString => string.Join(',', _nodes.Select(n => n.ConnectionString));

    public ConnectionMultiplexer Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _dir = Directory.CreateTempSubdirectory("serverlessws-cluster-");
        for (var i = 0; i < 3; i++)
        {
            var dir = _dir.CreateSubdirectory($"node{i}").FullName;
            _nodes.Add(await RedisServer.StartAsync("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--dir", dir));
        }

        await RunRedisCliAsync(["--cluster", "create", .. _nodes.Select(n => n.ConnectionString), "--cluster-replicas", "0", "--cluster-yes"]);
        Client = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},allowAdmin=true");
        await WaitUntilEveryNodeSaysOkAsync();
    }

    public async Task DisposeAsync()
    {
        if (Client is not null)
        {
            await Client.DisposeAsync();
        }

        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        _dir?.Delete(recursive: true);
    }

    private async Task WaitUntilEveryNodeSaysOkAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var states = new List<string>();
            foreach (var server in Client.GetServers())
            {
                var info = (string?)await server.ExecuteAsync("CLUSTER", "INFO") ?? string.Empty;
                states.Add(info);
            }

            if (states.Count == 3 && states.All(s => s.Contains("cluster_state:ok", StringComparison.Ordinal)))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("The Redis Cluster did not reach cluster_state:ok.");
            }

            await Task.Delay(100);
        }
    }

    private static async Task RunRedisCliAsync(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli {string.Join(' ', start.ArgumentList)} failed: {await output}{await error}");
        }
    }
}

/// <summary>A Redis a test can point WsApp nodes at: one server or a cluster.</summary>
public interface IRedisEndpoint
{
    string ConnectionString { get; }

    ConnectionMultiplexer Client { get; }
}
