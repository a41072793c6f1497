using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Upstream;
using StackExchange.Redis;

namespace ServerlessWs.Core.Hosting;

/// <summary>The services WsApp and WsFunctions share: options, the session store, the node bus and the router.</summary>
public static class ServerlessWsServices
{
    /// <summary>
    /// Registers the shared services; on Redis when <c>Redis:ConnectionString</c> or <c>Redis:Host</c> is set,
    /// else embedded (in memory, one process). Returns whether Redis is used.
    /// </summary>
    public static bool AddServerlessWsCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<WsOptions>(configuration, WsOptions.SectionName);
        services.PostConfigure<WsOptions>(options =>
        {
            if (string.IsNullOrEmpty(options.ServerId))
            {
                options.ServerId = $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..6]}";
            }
        });
        // Both apps: WsApp appends events and calls the handler, WsFunctions dispatches; a bad value stops either.
        services.AddValidatedOptions<UpstreamOptions>(configuration, UpstreamOptions.SectionName);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<MessageRouter>();

        var redis = configuration.GetSection(RedisOptions.SectionName).Get<RedisOptions>() ?? new RedisOptions();
        if (!redis.IsConfigured)
        {
            services.AddSingleton<InMemorySessionStore>();
            // Tried, not forced: a host (or a test) that registered its own store first keeps it.
            services.TryAddSingleton<ISessionStore>(sp => sp.GetRequiredService<InMemorySessionStore>());
            services.AddSingleton<INodeBus, InMemoryNodeBus>();
            return false;
        }

        services.AddValidatedOptions<RedisOptions>(configuration, RedisOptions.SectionName);
        // In Azure, DefaultAzureCredential finds the app's user-assigned identity through AZURE_CLIENT_ID.
        services.TryAddSingleton<TokenCredential>(_ => new DefaultAzureCredential());
        services.AddSingleton<EntraIdRedisAuth>();
        services.AddSingleton<IConnectionMultiplexer>(ConnectRedis);
        services.AddSingleton<RedisSessionStore>();
        services.AddSingleton<ISessionStore>(sp => sp.GetRequiredService<RedisSessionStore>());
        services.AddSingleton<INodeBus, RedisNodeBus>();
        services.AddSingleton<ClusterRegistry>();
        services.AddSingleton<ClusterEventFeed>();
        services.AddSingleton<UpstreamEventLog>();
        return true;
    }

    private static ConnectionMultiplexer ConnectRedis(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<RedisOptions>>().Value;
        var serverId = services.GetRequiredService<IOptions<WsOptions>>().Value.ServerId;
        var configuration = RedisConnection.CreateConfiguration(options, serverId);
        if (!options.UseEntraId)
        {
            return ConnectionMultiplexer.Connect(configuration);
        }

        // Once, at start-up: the first token is needed before the first connection.
        var auth = services.GetRequiredService<EntraIdRedisAuth>();
        auth.ConfigureAsync(configuration, CancellationToken.None).GetAwaiter().GetResult();
        var redis = ConnectionMultiplexer.Connect(configuration);
        auth.Start(redis, configuration);
        return redis;
    }
}
