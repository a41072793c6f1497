using Azure.Core;
using Azure.Identity;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ServerlessWs.App.Cluster;
using ServerlessWs.App.Connections;
using ServerlessWs.App.Heartbeat;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using StackExchange.Redis;

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

        var app = builder.Build();
        app.UseHeartbeatStreams();
        app.UseWebSockets();
        app.MapGet("/ws", (HttpContext http, WebSocketsManager manager) => manager.HandleAsync(http));
        // Live: the process answers. Ready: it takes new sockets (not draining).
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        return app;
    }

    private static void AddServices(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<WsOptions>()
            .Bind(builder.Configuration.GetSection(WsOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.PostConfigure<WsOptions>(options =>
        {
            if (string.IsNullOrEmpty(options.ServerId))
            {
                options.ServerId = $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..6]}";
            }
        });

        // Shutdown waits for the drain (Ws:DrainSeconds) plus the close handshakes it starts.
        services.AddOptions<HostOptions>().Configure<IOptions<WsOptions>>((host, ws) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(ws.Value.DrainSeconds + 10));

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<MessageRouter>();
        services.AddSingleton<WebSocketsManager>();
        services.AddHostedService(sp => sp.GetRequiredService<WebSocketsManager>());
        var health = services.AddHealthChecks().AddCheck<DrainingHealthCheck>("draining", tags: ["ready"]);

        var redis = builder.Configuration.GetSection(RedisOptions.SectionName).Get<RedisOptions>() ?? new RedisOptions();
        if (redis.IsConfigured)
        {
            AddRedis(builder);
            health.AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        }
        else
        {
            // Embedded: one node, everything in memory.
            services.AddSingleton<InMemorySessionStore>();
            services.AddSingleton<ISessionStore>(sp => sp.GetRequiredService<InMemorySessionStore>());
            services.AddSingleton<INodeBus, InMemoryNodeBus>();
        }
    }

    private static void AddRedis(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<RedisOptions>()
            .Bind(builder.Configuration.GetSection(RedisOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        // In Azure, DefaultAzureCredential finds the app's user-assigned identity through AZURE_CLIENT_ID.
        services.TryAddSingleton<TokenCredential>(_ => new DefaultAzureCredential());
        services.AddSingleton<EntraIdRedisAuth>();
        services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
            var serverId = sp.GetRequiredService<IOptions<WsOptions>>().Value.ServerId;
            var configuration = RedisConnection.CreateConfiguration(options, serverId);
            if (!options.UseEntraId)
            {
                return ConnectionMultiplexer.Connect(configuration);
            }

            // Once, at start-up: the first token is needed before the first connection.
            var auth = sp.GetRequiredService<EntraIdRedisAuth>();
            auth.ConfigureAsync(configuration, CancellationToken.None).GetAwaiter().GetResult();
            var redis = ConnectionMultiplexer.Connect(configuration);
            auth.Start(redis, configuration);
            return redis;
        });
        services.AddSingleton<ISessionStore, RedisSessionStore>();
        services.AddSingleton<INodeBus, RedisNodeBus>();
        services.AddHostedService<ServerLease>();
        services.AddHostedService<RedisRecovery>();
    }
}
