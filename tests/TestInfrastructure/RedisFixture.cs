using StackExchange.Redis;

namespace ServerlessWs.Tests.Infrastructure;

/// <summary>One real redis-server for a test class, with a connected client. Tests keep apart by unique ids.</summary>
public sealed class RedisFixture : IRedisEndpoint, IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public string ConnectionString => Server.ConnectionString;

    public ConnectionMultiplexer Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await RedisServer.StartAsync();
        Client = await Server.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
