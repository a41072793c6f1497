using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ServerlessWs.Client;

/// <summary>Where the admin API is and how to call it.</summary>
public sealed class ServerlessWsAdminOptions
{
    /// <summary>
    /// The admin API's root, routes included: the WsFunctions app's URL followed by <c>/api/</c>
    /// (e.g. <c>https://my-functions.example/api/</c>; a missing trailing slash is added).
    /// </summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>A function or host key, sent as <c>x-functions-key</c>; null where the host checks none (local <c>func start</c>).</summary>
    public string? FunctionKey { get; set; }
}

public static class AdminClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ServerlessWsAdminClient"/> as a typed <c>IHttpClientFactory</c> client, with
    /// <see cref="ServerlessWsAdminOptions"/> checked when it is first resolved (a missing or relative base address
    /// says so by name). The returned builder adds handlers or resilience as the application wants.
    /// </summary>
    public static IHttpClientBuilder AddServerlessWsAdminClient(this IServiceCollection services, Action<ServerlessWsAdminOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ServerlessWsAdminOptions>()
            .Configure(configure)
            .Validate(o => o.BaseAddress is { IsAbsoluteUri: true } a && a.Scheme is "http" or "https", "ServerlessWsAdminOptions.BaseAddress must be the admin API's absolute http(s) URL, e.g. https://my-functions.example/api/.");
        return services.AddHttpClient<ServerlessWsAdminClient>((provider, http) =>
        {
            var options = provider.GetRequiredService<IOptions<ServerlessWsAdminOptions>>().Value;
            var address = options.BaseAddress!.ToString();
            // Relative routes resolve under the base only when it ends with a slash.
            http.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
            if (!string.IsNullOrEmpty(options.FunctionKey))
            {
                http.DefaultRequestHeaders.Add(ServerlessWsAdminClient.FunctionKeyHeader, options.FunctionKey);
            }
        });
    }
}
