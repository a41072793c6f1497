using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ServerlessWs.Core.Hosting;
using ServerlessWs.Functions.Cleanup;
using ServerlessWs.Functions.Reconcile;
using ServerlessWs.Functions.Upstream;

namespace ServerlessWs.Functions;

/// <summary>
/// Builds the WsFunctions worker. <c>Program.cs</c> and the tests use the same code, so a test resolves the function
/// classes from the DI graph and options the deployed worker has (the Functions host itself cannot run here).
/// </summary>
public static class WsFunctionsHost
{
    public static IHost Build(string[] args, Action<FunctionsApplicationBuilder>? configure = null)
    {
        var builder = FunctionsApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        builder.ConfigureFunctionsWebApplication();
        builder.UseMiddleware<StoreUnavailableMiddleware>();

        // The same Ws section as WsApp's (infra passes both apps one set): per-session policy such as the log length
        // that an admin send writes with is the operator's, not this app's defaults.
        if (!builder.Services.AddServerlessWsCore(builder.Configuration))
        {
            throw new InvalidOperationException("WsFunctions needs Redis: set Redis:ConnectionString, or Redis:Host with Redis:UseEntraId.");
        }

        builder.Services.AddValidatedOptions<ReconcileOptions>(builder.Configuration, ReconcileOptions.SectionName);
        builder.Services.AddValidatedOptions<CleanupOptions>(builder.Configuration, CleanupOptions.SectionName);
        builder.Services.AddSingleton<ReconcileOwnership>();
        builder.AddServerlessWsTelemetry();
        // Stands in for the Redis stream trigger (see EventStreamConsumer); the app runs always-on, one replica.
        builder.Services.AddHostedService<EventStreamConsumer>();
        // Delivers the durable upstream events (docs/protocol.md §7) when Upstream:Url is set.
        builder.Services.AddUpstreamDispatcher();
        return builder.Build();
    }
}
