using Microsoft.Extensions.DependencyInjection;

namespace ServerlessWs.Functions.Upstream;

/// <summary>
/// The dispatcher's registration, one place for the worker (<see cref="WsFunctionsHost"/>) and for any other host of
/// the same service (the tests' dispatcher process), so what runs there is what runs in production.
/// </summary>
public static class UpstreamDispatch
{
    /// <summary>Adds <see cref="UpstreamDispatcher"/> as a hosted service; it does nothing while <c>Upstream:Url</c> is empty.</summary>
    public static IServiceCollection AddUpstreamDispatcher(this IServiceCollection services)
    {
        // The dispatcher bounds each call itself (Upstream:TimeoutSeconds): the client's own timeout is off.
        services.AddHttpClient(UpstreamDispatcher.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<UpstreamDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<UpstreamDispatcher>());
        return services;
    }
}
