using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ServerlessWs.Core.Hosting;
using ServerlessWs.Functions;
using ServerlessWs.Functions.Cleanup;
using ServerlessWs.Functions.Reconcile;

// WsFunctions: ownership reconciliation from ws:events, stale-entry cleanup, and the admin HTTP API.
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.UseMiddleware<StoreUnavailableMiddleware>();

if (!builder.Services.AddServerlessWsCore(builder.Configuration))
{
    throw new InvalidOperationException("WsFunctions needs Redis: set Redis:ConnectionString, or Redis:Host with Redis:UseEntraId.");
}

builder.Services.AddOptions<ReconcileOptions>()
    .Bind(builder.Configuration.GetSection(ReconcileOptions.SectionName))
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddOptions<CleanupOptions>()
    .Bind(builder.Configuration.GetSection(CleanupOptions.SectionName))
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSingleton<ReconcileOwnership>();
builder.AddServerlessWsTelemetry();
// Stands in for the Redis stream trigger (see EventStreamConsumer); the app runs always-on, one replica.
builder.Services.AddHostedService<EventStreamConsumer>();

builder.Build().Run();
