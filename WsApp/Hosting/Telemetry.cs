using Azure.Identity;
using Azure.Monitor.OpenTelemetry.AspNetCore;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Hosting;

/// <summary>
/// OpenTelemetry for WsApp: the ServerlessWs meter and activity source, exported to Azure Monitor when
/// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set, over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set,
/// and nowhere (at no cost) when neither is.
/// </summary>
internal static class Telemetry
{
    public static void AddServerlessWsTelemetry(this WebApplicationBuilder builder)
    {
        var azureMonitor = !string.IsNullOrEmpty(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (!azureMonitor && !otlp)
        {
            return;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("wsapp"))
            .WithMetrics(metrics => metrics.AddMeter(WsMetrics.Name))
            .WithTracing(tracing => tracing.AddSource(WsMetrics.Name));
        if (azureMonitor)
        {
            // The distro adds ASP.NET Core and HTTP client instrumentation itself. In Azure it signs in as the app's
            // identity (Monitoring Metrics Publisher; AZURE_CLIENT_ID names the user-assigned identity).
            var useEntraId = builder.Configuration.GetValue<bool>("AzureMonitor:UseEntraId");
            telemetry.UseAzureMonitor(options =>
            {
                if (useEntraId)
                {
                    options.Credential = new DefaultAzureCredential();
                }
            });
        }
        else
        {
            telemetry.WithTracing(tracing => tracing.AddAspNetCoreInstrumentation());
        }

        if (otlp)
        {
            telemetry.UseOtlpExporter();
        }
    }
}
