using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.Functions;

/// <summary>
/// OpenTelemetry for the worker, the same way as WsApp: the ServerlessWs meter and activity source, to Azure
/// Monitor when <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set and over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. The host exports its own telemetry too (host.json
/// <c>telemetryMode: OpenTelemetry</c>), so host and worker spans share one operation id.
/// </summary>
internal static class Telemetry
{
    public static void AddServerlessWsTelemetry(this FunctionsApplicationBuilder builder)
    {
        var azureMonitor = !string.IsNullOrEmpty(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (!azureMonitor && !otlp)
        {
            return;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("wsfunctions"))
            .UseFunctionsWorkerDefaults()
            .WithMetrics(metrics => metrics.AddMeter(WsMetrics.Name))
            .WithTracing(tracing => tracing.AddSource(WsMetrics.Name));
        if (azureMonitor)
        {
            // In Azure the exporter signs in as the app's identity (Monitoring Metrics Publisher), not with the
            // connection string's key alone (AZURE_CLIENT_ID names the user-assigned identity).
            var useEntraId = builder.Configuration.GetValue<bool>("AzureMonitor:UseEntraId");
            telemetry.UseAzureMonitorExporter(options =>
            {
                if (useEntraId)
                {
                    options.Credential = new DefaultAzureCredential();
                }
            });
        }

        if (otlp)
        {
            telemetry.UseOtlpExporter();
        }
    }
}
