using System.Text.Json;
using Azure.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessWs.Core.Redis;
using ServerlessWs.Tests.Infrastructure;
using StackExchange.Redis;

namespace ServerlessWs.Core.Tests.Redis;

/// <summary>
/// Entra ID to Redis against a real redis-server whose ACL user is the identity's object id and whose password is
/// the current token, rotated by a test credential; unauthenticated access is off.
/// </summary>
public sealed class EntraIdRedisAuthTests : IAsyncLifetime
{
    private const string ObjectId = "5f0c2a9e-7d1b-4c3e-9a8f-0123456789ab";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private RedisServer _redis = null!;
    private ConnectionMultiplexer _admin = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        using (var setup = await _redis.ConnectAsync())
        {
            var server = setup.GetServers().Single();
            await server.ExecuteAsync("ACL", "SETUSER", "admin", "on", ">admin-pw", "~*", "&*", "+@all");
            await server.ExecuteAsync("ACL", "SETUSER", "default", "off");
        }

        _admin = await ConnectionMultiplexer.ConnectAsync($"{_redis.ConnectionString},user=admin,password=admin-pw,allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        await _admin.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public void TheUserIsTheTokensObjectId()
    {
        Assert.Equal(ObjectId, EntraIdRedisAuth.ObjectId(Jwt(ObjectId, "x")));
        Assert.Throws<FormatException>(() => EntraIdRedisAuth.ObjectId("not-a-jwt"));
        Assert.Throws<FormatException>(() => EntraIdRedisAuth.ObjectId(Jwt(oid: null, "y")));
    }

    [Fact]
    public async Task ItConnectsAsTheIdentityAndRotatesTheTokenBeforeItExpires()
    {
        var credential = new RotatingCredential(_time, TimeSpan.FromMinutes(10));
        await AllowAsync(RotatingCredential.Peek(0));
        await using var auth = new EntraIdRedisAuth(credential, _time, NullLogger<EntraIdRedisAuth>.Instance);
        var configuration = RedisConnection.CreateConfiguration(new RedisOptions { ConnectionString = _redis.ConnectionString, UseEntraId = true }, "test");

        await auth.ConfigureAsync(configuration, CancellationToken.None);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(configuration);
        auth.Start(redis, configuration);

        Assert.Equal(ObjectId, configuration.User);
        Assert.True(await redis.GetDatabase().StringSetAsync("k", "v"));
        var authsBefore = await AuthCallsAsync();

        // The next token is accepted from now on; the clock passes the refresh point of the first one.
        await AllowAsync(RotatingCredential.Peek(1));
        _time.Advance(TimeSpan.FromMinutes(6));
        await Eventually.TrueAsync(async () => credential.Issued == 2 && await AuthCallsAsync() > authsBefore, TimeSpan.FromSeconds(20));
        Assert.Equal(RotatingCredential.Peek(1), configuration.Password);

        // The first token is revoked and every connection is cut: the reconnect must use the new token.
        await _admin.GetServers().Single().ExecuteAsync("ACL", "SETUSER", ObjectId, "<" + RotatingCredential.Peek(0));
        await _admin.GetServers().Single().ExecuteAsync("CLIENT", "KILL", "USER", ObjectId);
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (string?)await redis.GetDatabase().StringGetAsync("k") == "v";
                }
                catch (RedisException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task AfterARefreshNoConnectionIsLeftOnTheOldTokenTheSubscriptionIncluded()
    {
        // Azure closes a connection whose token expires unless it was re-authenticated. A RESP2 subscription connection
        // cannot be (it accepts no AUTH once subscribed), so it would drop about daily and miss what was published
        // meanwhile. To see which connections still carry the old token, each token here names a user of its own.
        var credential = new RotatingCredential(_time, TimeSpan.FromMinutes(10), userPerToken: true);
        await AllowAsync(credential.Token(0), RotatingCredential.UserOf(0));
        await using var auth = new EntraIdRedisAuth(credential, _time, NullLogger<EntraIdRedisAuth>.Instance);
        var configuration = RedisConnection.CreateConfiguration(new RedisOptions { ConnectionString = _redis.ConnectionString, UseEntraId = true }, "test");
        await auth.ConfigureAsync(configuration, CancellationToken.None);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(configuration);
        auth.Start(redis, configuration);
        var heard = System.Threading.Channels.Channel.CreateUnbounded<string>();
        await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal("bell"), (_, value) => heard.Writer.TryWrite(value!));

        await AllowAsync(credential.Token(1), RotatingCredential.UserOf(1));
        var authsBefore = await AuthCallsAsync();
        _time.Advance(TimeSpan.FromMinutes(6));
        await Eventually.TrueAsync(async () => credential.Issued == 2 && await AuthCallsAsync() > authsBefore, TimeSpan.FromSeconds(20));

        // The first token expires: the server ends every connection still authenticated with it.
        var cut = (long)await _admin.GetServers().Single().ExecuteAsync("CLIENT", "KILL", "USER", RotatingCredential.UserOf(0));
        Assert.Equal(0, cut);

        // And the subscription, on the new token, still hears at once.
        await _admin.GetSubscriber().PublishAsync(RedisChannel.Literal("bell"), "ding");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal("ding", await heard.Reader.ReadAsync(timeout.Token));
    }

    [Fact]
    public void TheSharedSubscriptionConnectionSurvivesTheConfigurationStringThatRecoveryReads()
    {
        // RedisRecovery tells from the multiplexer's configuration string whether doorbells come over the interactive connection.
        var configuration = RedisConnection.CreateConfiguration(new RedisOptions { ConnectionString = _redis.ConnectionString, UseEntraId = true }, "test");

        Assert.True(ConfigurationOptions.Parse(configuration.ToString()).SharedSubscriptionConnection);
        Assert.False(ConfigurationOptions.Parse(RedisConnection.CreateConfiguration(new RedisOptions { ConnectionString = _redis.ConnectionString }, "test").ToString()).SharedSubscriptionConnection);
    }

    [Fact]
    public async Task WithARevokedTokenAndNoRefreshTheReconnectIsRefused()
    {
        // The control for the test above: without the rotation, cutting the connections locks the client out.
        var credential = new RotatingCredential(_time, TimeSpan.FromHours(1));
        await AllowAsync(RotatingCredential.Peek(0));
        await using var auth = new EntraIdRedisAuth(credential, _time, NullLogger<EntraIdRedisAuth>.Instance);
        var configuration = RedisConnection.CreateConfiguration(new RedisOptions { ConnectionString = _redis.ConnectionString, CommandTimeoutMilliseconds = 500 }, "test");
        await auth.ConfigureAsync(configuration, CancellationToken.None);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(configuration);

        await _admin.GetServers().Single().ExecuteAsync("ACL", "SETUSER", ObjectId, "resetpass");
        await _admin.GetServers().Single().ExecuteAsync("CLIENT", "KILL", "USER", ObjectId);
        await Task.Delay(TimeSpan.FromSeconds(2));

        await Assert.ThrowsAnyAsync<RedisException>(() => redis.GetDatabase().StringGetAsync("k"));
    }

    private async Task AllowAsync(string token, string user = ObjectId) =>
        await _admin.GetServers().Single().ExecuteAsync("ACL", "SETUSER", user, "on", ">" + token, "~*", "&*", "+@all");

    private async Task<long> AuthCallsAsync()
    {
        var stats = (await _admin.GetServers().Single().InfoAsync("commandstats")).SelectMany(g => g);
        var auth = stats.FirstOrDefault(p => p.Key == "cmdstat_auth").Value ?? "calls=0";
        return long.Parse(auth.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Jwt(string? oid, string nonce)
    {
        static string Part(object value) => Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(value)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        object claims = oid is null ? new { nonce } : new { oid, nonce };
        return $"{Part(new { alg = "none", typ = "JWT" })}.{Part(claims)}.sig";
    }

    /// <summary>
    /// Hands out a new JWT for the same identity on every call, each valid for <paramref name="lifetime"/>; with
    /// <paramref name="userPerToken"/>, token i names user <see cref="UserOf"/>(i) instead, so the server can tell the tokens' connections apart.
    /// </summary>
    private sealed class RotatingCredential(TimeProvider time, TimeSpan lifetime, bool userPerToken = false) : TokenCredential
    {
        private int _issued;

        public int Issued => Volatile.Read(ref _issued);

        public static string Peek(int index) => Jwt(ObjectId, $"token-{index}");

        public static string UserOf(int index) => $"{ObjectId[..^1]}{index}";

        public string Token(int index) => userPerToken ? Jwt(UserOf(index), $"token-{index}") : Peek(index);

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            Assert.Equal([EntraIdRedisAuth.Scope], requestContext.Scopes);
            var index = Interlocked.Increment(ref _issued) - 1;
            return ValueTask.FromResult(new AccessToken(Token(index), time.GetUtcNow() + lifetime));
        }

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            GetTokenAsync(requestContext, cancellationToken).AsTask().GetAwaiter().GetResult();
    }
}
