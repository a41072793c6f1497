using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Upstream;
using ServerlessWs.Functions.Admin;
using ServerlessWs.Functions.Cleanup;
using ServerlessWs.Functions.Reconcile;
using ServerlessWs.Functions.Upstream;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// The function classes built the way the worker builds them (its DI graph from <see cref="WsFunctionsHost"/>,
/// constructor injection), on a real redis-server, and called directly, as Microsoft documents for testing
/// isolated-worker functions.
/// </summary>
public sealed class FunctionsHarness : IAsyncDisposable
{
    private readonly bool _ownsRedis;

    private readonly IHost _host;

    private FunctionsHarness(
        RedisServer redis, bool ownsRedis, ConnectionMultiplexer client, WsOptions ws, ReconcileOptions reconcile, CleanupOptions? cleanup = null,
        IEnumerable<(string Key, object Value)>? settings = null)
    {
        Redis = redis;
        _ownsRedis = ownsRedis;
        Client = client;
        // The worker's own DI graph and options binding (WsFunctionsHost, as Program.cs builds it), not started: the
        // options of a test go in as configuration, as an operator's would.
        _host = WsFunctionsHost.Build([], builder => builder.Configuration.AddInMemoryCollection(
        [
            new("Redis:ConnectionString", redis.ConnectionString),
            .. Settings(WsOptions.SectionName, ws),
            .. Settings(ReconcileOptions.SectionName, reconcile),
            .. Settings(CleanupOptions.SectionName, cleanup ?? new CleanupOptions()),
            .. (settings ?? []).Select(s => KeyValuePair.Create(s.Key, (string?)Convert.ToString(s.Value, System.Globalization.CultureInfo.InvariantCulture))),
        ]));
        var services = _host.Services;
        Store = services.GetRequiredService<RedisSessionStore>();
        Bus = (RedisNodeBus)services.GetRequiredService<INodeBus>();
        Registry = services.GetRequiredService<ClusterRegistry>();
        Feed = services.GetRequiredService<ClusterEventFeed>();
        Reconcile = services.GetRequiredService<ReconcileOwnership>();
        // Function classes and the consumer as the worker activates them.
        Consumer = ActivatorUtilities.CreateInstance<EventStreamConsumer>(services);
        Cleanup = ActivatorUtilities.CreateInstance<CleanupStaleEntries>(services);
        Clients = ActivatorUtilities.CreateInstance<ClientsApi>(services);
        Messages = ActivatorUtilities.CreateInstance<MessagesApi>(services);
        Fleet = ActivatorUtilities.CreateInstance<FleetApi>(services);
        Upstream = ActivatorUtilities.CreateInstance<UpstreamApi>(services);
        EventLog = services.GetRequiredService<UpstreamEventLog>();
    }

    /// <summary>The scalar properties of an options object as configuration of <paramref name="section"/>.</summary>
    private static IEnumerable<KeyValuePair<string, string?>> Settings(string section, object options) =>
        from property in options.GetType().GetProperties()
        where property.CanWrite && (property.PropertyType.IsPrimitive || property.PropertyType == typeof(string))
        select KeyValuePair.Create($"{section}:{property.Name}", Convert.ToString(property.GetValue(options), System.Globalization.CultureInfo.InvariantCulture));

    public RedisServer Redis { get; }

    /// <summary>The worker's services, to activate a function class as the worker does.</summary>
    public IServiceProvider Services => _host.Services;

    public ConnectionMultiplexer Client { get; }

    public IDatabase Db => Client.GetDatabase();

    public RedisSessionStore Store { get; }

    public RedisNodeBus Bus { get; }

    public ClusterRegistry Registry { get; }

    public ClusterEventFeed Feed { get; }

    public ReconcileOwnership Reconcile { get; }

    public EventStreamConsumer Consumer { get; }

    public CleanupStaleEntries Cleanup { get; }

    public ClientsApi Clients { get; }

    public MessagesApi Messages { get; }

    public FleetApi Fleet { get; }

    public UpstreamApi Upstream { get; }

    public UpstreamEventLog EventLog { get; }

    /// <summary>The upstream dispatcher as the worker registers it (a hosted service; started by the test that needs it).</summary>
    public UpstreamDispatcher Dispatcher => _host.Services.GetRequiredService<UpstreamDispatcher>();

    public static async Task<FunctionsHarness> StartAsync(
        WsOptions? ws = null, ReconcileOptions? reconcile = null, CleanupOptions? cleanup = null, IEnumerable<(string Key, object Value)>? settings = null)
    {
        var redis = await RedisServer.StartAsync();
        try
        {
            return new FunctionsHarness(redis, ownsRedis: true, await redis.ConnectAsync(), ws ?? new WsOptions(), reconcile ?? new ReconcileOptions { ConsumerName = "test" }, cleanup, settings);
        }
        catch
        {
            // Options a test got wrong fail here: the server must not outlive the test.
            await redis.DisposeAsync();
            throw;
        }
    }

    /// <summary>The functions on a redis-server that the caller started and stops.</summary>
    public static async Task<FunctionsHarness> AttachAsync(
        RedisServer redis, WsOptions? ws = null, ReconcileOptions? reconcile = null, IEnumerable<(string Key, object Value)>? settings = null) =>
        new(redis, ownsRedis: false, await redis.ConnectAsync(), ws ?? new WsOptions(), reconcile ?? new ReconcileOptions { ConsumerName = "test" }, settings: settings);

    /// <summary>Runs the consumer until ws:events has nothing left for it (bounded).</summary>
    public async Task ReconcileAllAsync()
    {
        for (var i = 0; i < 100 && await Consumer.RunOnceAsync() > 0; i++)
        {
        }
    }

    public static HttpRequest Request(string method, string? body = null, string query = "")
    {
        var http = new DefaultHttpContext();
        http.Request.Method = method;
        http.Request.QueryString = new QueryString(query);
        if (body is not null)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(body);
            http.Request.Body = new MemoryStream(bytes);
            http.Request.ContentLength = bytes.Length;
        }

        return http.Request;
    }

    public async ValueTask DisposeAsync()
    {
        _host.Dispose();
        await Client.DisposeAsync();
        if (_ownsRedis)
        {
            await Redis.DisposeAsync();
        }
    }
}
