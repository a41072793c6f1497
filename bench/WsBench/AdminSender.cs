using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.Core.Hosting;
using ServerlessWs.Core.Routing;
using StackExchange.Redis;

namespace ServerlessWs.Bench;

/// <summary>
/// Sends the way the admin API (WsFunctions) does: WsCore's services on Redis and their <see cref="MessageRouter"/>.
/// The Functions host cannot run here; what reaches Redis and the nodes is the same.
/// </summary>
internal sealed class AdminSender : IAsyncDisposable
{
    // As WsFunctions' MessagesApi.AdminSender: what clients see in `from`.
    private const string From = "admin";

    // Contract v2 §5b: the reserved group every connected client is in without joining.
    private const string BroadcastGroup = "*";

    private readonly ServiceProvider _services;
    private readonly MessageRouter _router;

    private AdminSender(ServiceProvider services)
    {
        _services = services;
        _router = services.GetRequiredService<MessageRouter>();
    }

    /// <summary>Connects to the Redis at <paramref name="redisConnectionString"/>, which must be on loopback.</summary>
    public static AdminSender Create(string redisConnectionString)
    {
        if (ConfigurationOptions.Parse(redisConnectionString).EndPoints.Any(e => !IsLoopback(e)))
        {
            throw new ArgumentException($"Only a loopback Redis may be used, not '{redisConnectionString}'.", nameof(redisConnectionString));
        }

        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Redis:ConnectionString"] = redisConnectionString,
                ["Ws:ServerId"] = $"bench-admin-{Environment.ProcessId}",
            })
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        if (!services.AddServerlessWsCore(configuration))
        {
            throw new InvalidOperationException("WsCore did not take the Redis connection string: it would send in memory, to no node.");
        }

        return new AdminSender(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true }));
    }

    /// <summary>
    /// A broadcast as <c>POST /api/broadcast</c> sends it (contract v2): one group send to <c>*</c>. Returns the
    /// router's answer as text, for a failure's message only: its type changes with v2 (an outcome, then a result
    /// with the outcome and the gseq), and the load tool reads nothing else from it.
    /// </summary>
    public async Task<string> BroadcastAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var answer = await _router.SendToGroupAsync(From, BroadcastGroup, data, cancellationToken);
        return answer.ToString();
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    private static bool IsLoopback(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip => IPAddress.IsLoopback(ip.Address),
        DnsEndPoint dns => string.Equals(dns.Host, "localhost", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };
}
