using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace ServerlessWs.App.Cluster;

/// <summary>Not ready while Redis is unreachable: new clients are better served by a node that can claim.</summary>
internal sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(redis.IsConnected ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("Redis is unreachable"));
}
