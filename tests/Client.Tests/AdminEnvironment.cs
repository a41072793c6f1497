using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.Core.Options;
using ServerlessWs.Functions.Tests;

namespace ServerlessWs.Client.Tests;

/// <summary>
/// The admin API served over loopback (<see cref="AdminApiServer"/>) on a real redis-server, and the typed client
/// resolved from a service collection the way an application registers it.
/// </summary>
public sealed class AdminEnvironment : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private AdminEnvironment(FunctionsHarness functions, AdminApiServer server, ServiceProvider services)
    {
        Functions = functions;
        Server = server;
        _services = services;
        Admin = services.GetRequiredService<ServerlessWsAdminClient>();
    }

    public FunctionsHarness Functions { get; }

    public AdminApiServer Server { get; }

    public ServerlessWsAdminClient Admin { get; }

    public static async Task<AdminEnvironment> StartAsync(WsOptions? ws = null)
    {
        var functions = await FunctionsHarness.StartAsync(ws);
        try
        {
            var server = await AdminApiServer.StartAsync(functions);
            return new AdminEnvironment(functions, server, Client(server, AdminApiServer.FunctionKey));
        }
        catch
        {
            await functions.DisposeAsync();
            throw;
        }
    }

    /// <summary>A typed client of <paramref name="server"/> with <paramref name="key"/>, from its own service collection.</summary>
    public static ServiceProvider Client(AdminApiServer server, string? key)
    {
        var services = new ServiceCollection();
        services.AddServerlessWsAdminClient(o =>
        {
            // Without the trailing slash, as a user may well write it: the registration adds it.
            o.BaseAddress = new Uri(server.BaseAddress.ToString().TrimEnd('/'));
            o.FunctionKey = key;
        });
        return services.BuildServiceProvider();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await Server.DisposeAsync();
        await Functions.DisposeAsync();
    }
}
