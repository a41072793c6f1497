using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Core.Tests.Sessions;

/// <summary>The store's contract with the client connected as Entra ID connects it (RESP3, shared subscription connection).</summary>
public sealed class RedisSessionStoreOnResp3Tests(Resp3Endpoint<RedisFixture> redis)
    : RedisSessionStoreTests(redis), IClassFixture<Resp3Endpoint<RedisFixture>>;

/// <inheritdoc cref="RedisSessionStoreOnResp3Tests"/>
public sealed class RedisSessionStoreOnResp3ClusterTests(Resp3Endpoint<RedisClusterFixture> redis)
    : RedisSessionStoreTests(redis), IClassFixture<Resp3Endpoint<RedisClusterFixture>>;
