using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ServerlessWs.App.Admission;
using ServerlessWs.App.Auth;
using ServerlessWs.App.Cluster;
using ServerlessWs.App.Connections;
using ServerlessWs.App.Heartbeat;
using ServerlessWs.App.Upgrade;
using ServerlessWs.App.Upstream;
using ServerlessWs.Core.Hosting;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.App.Hosting;

/// <summary>
/// Builds the WsApp host. <c>Program.cs</c> and the tests use the same code, so a test node is the real service
/// on real Kestrel, with only configuration (and, where time matters, the <see cref="TimeProvider"/>) changed.
/// </summary>
public static class WsAppHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        AddServices(builder);
        ClientAuthentication.AddTo(builder);
        UpgradeTransportFactory.AddTo(builder);
        builder.AddServerlessWsTelemetry();

        // The hosting diagnostics log every request's URL with its query string, where resumeToken and access_token
        // travel: kept at Warning whatever the configured level, so no token reaches a log.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);

        var app = builder.Build();
        // Middleware added here does not see a connection's first GET /ws upgrade: the fast path serves it in front
        // of Kestrel (WebSocketFastPath, with Kestrel's limits and AllowedHosts applied there), and only later requests
        // of a keep-alive connection reach this pipeline. Set Ws:FastUpgrade=false for middleware to see every upgrade.
        app.UseLivePage();
        app.UseHeartbeatStreams();
        app.UseWebSockets();
        app.MapGet("/ws", (HttpContext http, ConnectAdmission admissions) => WebSocketEndpoint.HandleAsync(http, admissions));
        // Live: the process answers. Ready: it takes new sockets (not draining).
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        return app;
    }

    private static void AddServices(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var onRedis = services.AddServerlessWsCore(builder.Configuration);

        // Shutdown waits for the drain (Ws:DrainSeconds) plus the close handshakes it starts.
        services.AddOptions<HostOptions>().Configure<IOptions<WsOptions>>((host, ws) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(ws.Value.DrainSeconds + 10));

        // The invoker bounds each call itself (Upstream:TimeoutSeconds): the client's own timeout is off.
        services.AddHttpClient(UpstreamInvoker.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<UpstreamInvoker>();
        AddConnections(services);
        var health = services.AddHealthChecks().AddCheck<DrainingHealthCheck>("draining", tags: ["ready"]);
        if (onRedis)
        {
            services.AddHostedService<ServerLease>();
            services.AddHostedService<RedisRecovery>();
            health.AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        }
    }

    /// <summary>
    /// The node's sockets, one concern per type: the local map and its inbox, the groups it hears, the node's outbox
    /// budget, the claims it gives back, its lifecycle (a hosted service), and the admission of a connect.
    /// </summary>
    private static void AddConnections(IServiceCollection services)
    {
        services.AddSingleton<LocalConnections>();
        services.AddSingleton<ClaimReleases>();
        services.AddSingleton(sp => new LocalGroups(
            sp.GetRequiredService<ISessionStore>(),
            sp.GetRequiredService<INodeBus>(),
            sp.GetRequiredService<LocalConnections>().Enumerate,
            sp.GetRequiredService<ILogger<LocalGroups>>()));
        services.AddSingleton(sp => new OutboxMeter(
            sp.GetRequiredService<IOptions<WsOptions>>().Value.NodeOutboxBytes,
            sp.GetRequiredService<LocalConnections>().Snapshot,
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<NodeLifecycle>();
        services.AddHostedService(sp => sp.GetRequiredService<NodeLifecycle>());
        services.AddSingleton<ConnectAdmission>();
    }
}
