using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessWs.App.Hosting;

using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests.Infrastructure;

/// <summary>A real WsApp node: the production host on real Kestrel at 127.0.0.1 on a free port.</summary>
public sealed class WsNode : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WsNode(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    public IServiceProvider Services => _app.Services;

    public Uri WsUri(string query = "") =>
        new($"ws://{BaseUri.Authority}/ws{(query.Length > 0 ? "?" + query : string.Empty)}");

    /// <summary>A node of a cluster on <paramref name="redis"/>, with its own server id.</summary>
    public static Task<WsNode> StartOnRedisAsync(RedisServer redis, string serverId, params (string Key, object Value)[] settings) =>
        StartOnRedisAsync(redis.ConnectionString, serverId, settings);

    /// <summary>A node of a cluster on the Redis at <paramref name="redisConnectionString"/>, with its own server id.</summary>
    public static Task<WsNode> StartOnRedisAsync(string redisConnectionString, string serverId, params (string Key, object Value)[] settings)
    {
        var all = Settings.Of(settings);
        all["Redis:ConnectionString"] = redisConnectionString;
        all["Ws:ServerId"] = serverId;
        return StartAsync(all);
    }

    public string ServerId => Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServerlessWs.Core.Options.WsOptions>>().Value.ServerId;

    public static async Task<WsNode> StartAsync(
        IDictionary<string, string?>? settings = null,
        TimeProvider? time = null,
        Action<IServiceCollection>? services = null)
    {
        var app = WsAppHost.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            if (time is not null)
            {
                builder.Services.AddSingleton(time);
            }

            services?.Invoke(builder.Services);
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new WsNode(app, new Uri(address));
    }

    /// <summary>
    /// A node with the fast upgrade path pinned on, for tests of the path itself: test.sh runs the WsApp tests a
    /// second time with <c>Ws__FastUpgrade=false</c>, where every other test goes through Kestrel.
    /// </summary>
    public static Task<WsNode> StartOnFastPathAsync(
        IDictionary<string, string?>? settings = null,
        TimeProvider? time = null,
        Action<IServiceCollection>? services = null)
    {
        var pinned = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { ["Ws:FastUpgrade"] = "true" };
        return StartAsync(pinned, time, services);
    }

    /// <summary>The node's map of the sockets it holds.</summary>
    internal ServerlessWs.App.Connections.LocalConnections Connections() =>
        Services.GetRequiredService<ServerlessWs.App.Connections.LocalConnections>();

    /// <summary>Stops the host the way the platform does (drain, then server stop).</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
