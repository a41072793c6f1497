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
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
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
            telemetry.UseAzureMonitorExporter();
        }

        if (otlp)
        {
            telemetry.UseOtlpExporter();
        }
    }
}
