using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ServerlessWs.Client;

namespace ServerlessWs.Samples.ChatHandler;

/// <summary>
/// Builds the sample handler. <c>Program.cs</c> and the tests use the same code, so a test runs the sample as it ships,
/// on real Kestrel, with only configuration (and the <see cref="TimeProvider"/>) changed.
/// </summary>
public static class ChatHandlerApp
{
    /// <summary>Where WsApp's <c>Upstream:Url</c> points.</summary>
    public const string Route = "/upstream";

    /// <summary>The configuration section bound to <see cref="ServerlessWsAdminOptions"/> (BaseAddress, FunctionKey).</summary>
    public const string AdminSection = "Admin";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        var services = builder.Services;
        services.AddOptions<HandlerOptions>()
            .Bind(builder.Configuration.GetSection(HandlerOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(provider => new UpstreamVerifier(provider.GetRequiredService<IOptions<HandlerOptions>>().Value.SigningKeys));
        services.TryAddSingleton(TimeProvider.System);
        services.AddServerlessWsAdminClient(o => builder.Configuration.GetSection(AdminSection).Bind(o));
        // A wrong admin address stops the start with a message, rather than the first reply failing.
        services.AddOptions<ServerlessWsAdminOptions>().ValidateOnStart();
        services.AddScoped<ChatHandler>();

        var app = builder.Build();
        app.MapPost(Route, (HttpRequest request, ChatHandler handler, CancellationToken cancellationToken) => handler.HandleAsync(request, cancellationToken));
        return app;
    }
}
