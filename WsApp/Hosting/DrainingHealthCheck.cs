using Microsoft.Extensions.Diagnostics.HealthChecks;
using ServerlessWs.App.Connections;

namespace ServerlessWs.App.Hosting;

/// <summary>Not ready once draining, so the platform stops sending new connects here.</summary>
internal sealed class DrainingHealthCheck(NodeLifecycle node) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(node.IsDraining ? HealthCheckResult.Unhealthy("draining") : HealthCheckResult.Healthy());
}
