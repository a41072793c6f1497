using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Routing;
using ServerlessWs.Functions.Admin;
using ServerlessWs.Functions.Cleanup;
using ServerlessWs.Functions.Reconcile;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// The function classes built the way the worker builds them (constructor injection), on a real redis-server,
/// and called directly, as Microsoft documents for testing isolated-worker functions.
/// </summary>
public sealed class FunctionsHarness : IAsyncDisposable
{
    private readonly bool _ownsRedis;

    private FunctionsHarness(RedisServer redis, bool ownsRedis, ConnectionMultiplexer client, WsOptions ws, ReconcileOptions reconcile, CleanupOptions? cleanup = null)
    {
        Redis = redis;
        _ownsRedis = ownsRedis;
        Client = client;
        var wsOptions = Options.Create(ws);
        Store = new RedisSessionStore(client, wsOptions, TimeProvider.System);
        Bus = new RedisNodeBus(client, Options.Create(new RedisOptions()), NullLogger<RedisNodeBus>.Instance);
        var router = new MessageRouter(Store, Bus);
        Registry = new ClusterRegistry(client, Store, TimeProvider.System);
        Feed = new ClusterEventFeed(client);
        Reconcile = new ReconcileOwnership(Registry, Bus);
        Consumer = new EventStreamConsumer(Feed, Reconcile, Options.Create(reconcile), TimeProvider.System, NullLogger<EventStreamConsumer>.Instance);
        Cleanup = new CleanupStaleEntries(Registry, Options.Create(cleanup ?? new CleanupOptions()), NullLogger<CleanupStaleEntries>.Instance);
        Clients = new ClientsApi(Registry, Store, Bus);
        Messages = new MessagesApi(Registry, router, wsOptions);
        Fleet = new FleetApi(Registry);
    }

    public RedisServer Redis { get; }

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

    public static async Task<FunctionsHarness> StartAsync(WsOptions? ws = null, ReconcileOptions? reconcile = null, CleanupOptions? cleanup = null)
    {
        var redis = await RedisServer.StartAsync();
        return new FunctionsHarness(redis, ownsRedis: true, await redis.ConnectAsync(), ws ?? new WsOptions(), reconcile ?? new ReconcileOptions { ConsumerName = "test" }, cleanup);
    }

    /// <summary>The functions on a redis-server that the caller started and stops.</summary>
    public static async Task<FunctionsHarness> AttachAsync(RedisServer redis, WsOptions? ws = null, ReconcileOptions? reconcile = null) =>
        new(redis, ownsRedis: false, await redis.ConnectAsync(), ws ?? new WsOptions(), reconcile ?? new ReconcileOptions { ConsumerName = "test" });

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
        await Client.DisposeAsync();
        if (_ownsRedis)
        {
            await Redis.DisposeAsync();
        }
    }
}
