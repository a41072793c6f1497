using StackExchange.Redis;

namespace ServerlessWs.Tests.Infrastructure;

/// <summary>
/// A Redis (or Redis Cluster) fixture as Entra ID connects to it: RESP3, pub/sub sharing the interactive connection.
/// <see cref="ConnectionString"/> carries both settings (so a WsApp node started on it connects that way) and
/// <see cref="Client"/> is connected with them.
/// </summary>
public sealed class Resp3Endpoint<TFixture> : IRedisEndpoint, IAsyncLifetime
    where TFixture : IRedisEndpoint, IAsyncLifetime, new()
{
    private readonly TFixture _inner = new();

    public string ConnectionString => $"{_inner.ConnectionString},protocol=resp3,sharedSubscriptionConnection=true";

    public ConnectionMultiplexer Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _inner.InitializeAsync();
        Client = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},allowAdmin=true");
        if (Client.GetServers()[0].Protocol != RedisProtocol.Resp3)
        {
            throw new InvalidOperationException("The server did not accept RESP3.");
        }
    }

    public async Task DisposeAsync()
    {
        await Client.DisposeAsync();
        await _inner.DisposeAsync();
    }
}
