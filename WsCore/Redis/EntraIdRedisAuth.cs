using System.Buffers.Text;
using System.Text.Json;
using Azure.Core;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// Microsoft Entra ID authentication to Azure Managed Redis (no access keys): the user is the identity's object id
/// (the token's <c>oid</c>), the password is an access token for <see cref="Scope"/>. Before a token expires a new
/// one is fetched, set as the configured password (used by every reconnect, including pub/sub connections that
/// cannot be re-authenticated in place) and sent with <c>AUTH</c> on every connected server.
/// </summary>
public sealed partial class EntraIdRedisAuth(TokenCredential credential, TimeProvider time, ILogger<EntraIdRedisAuth> logger) : IAsyncDisposable
{
    public const string Scope = "https://redis.azure.com/.default";

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(10);

    // A floor between refreshes, so a credential that hands out short-lived tokens cannot make this loop spin.
    private static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(1);
    private readonly CancellationTokenSource _stopping = new();
    private Task _refreshing = Task.CompletedTask;
    private AccessToken _token;

    /// <summary>A new token is fetched when less than this remains of the current one (less a random part of a minute).</summary>
    public TimeSpan RefreshBefore { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Puts the identity's user and a fresh token into <paramref name="configuration"/>.</summary>
    public async Task ConfigureAsync(ConfigurationOptions configuration, CancellationToken cancellationToken)
    {
        _token = await credential.GetTokenAsync(new TokenRequestContext([Scope]), cancellationToken);
        configuration.User = ObjectId(_token.Token);
        configuration.Password = _token.Token;
    }

    /// <summary>Keeps <paramref name="configuration"/> (the instance <paramref name="redis"/> was connected with) authenticated.</summary>
    public void Start(IConnectionMultiplexer redis, ConfigurationOptions configuration) =>
        _refreshing = RefreshLoopAsync(redis, configuration, _stopping.Token);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _refreshing.ContinueWith(_ => { }, TaskScheduler.Default);
        _stopping.Dispose();
    }

    /// <summary>The <c>oid</c> claim of a JWT access token (the Redis user name of the identity).</summary>
    public static string ObjectId(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length < 2)
        {
            throw new FormatException("The access token is not a JWT.");
        }

        var payload = Base64Url.DecodeFromChars(parts[1]);
        using var claims = JsonDocument.Parse(payload);
        return claims.RootElement.TryGetProperty("oid", out var oid) && oid.GetString() is { Length: > 0 } value
            ? value
            : throw new FormatException("The access token has no 'oid' claim.");
    }

    private async Task RefreshLoopAsync(IConnectionMultiplexer redis, ConfigurationOptions configuration, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Jitter keeps many instances with tokens from one moment from refreshing at the same instant.
                var jitter = TimeSpan.FromSeconds(Random.Shared.Next(0, 60));
                var due = _token.ExpiresOn - RefreshBefore - jitter - time.GetUtcNow();
                await Task.Delay(due > MinimumInterval ? due : MinimumInterval, time, stopping);

                _token = await credential.GetTokenAsync(new TokenRequestContext([Scope]), stopping);
                var user = ObjectId(_token.Token);
                configuration.User = user;
                configuration.Password = _token.Token;
                foreach (var server in redis.GetServers().Where(s => s.IsConnected))
                {
                    await server.ExecuteAsync("AUTH", user, _token.Token);
                }

                TokenRefreshed(logger, _token.ExpiresOn);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                RefreshFailed(logger, e);
                await Task.Delay(RetryDelay, time, stopping).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(2010, LogLevel.Information, "Redis access token refreshed; it expires at {ExpiresOn}")]
    private static partial void TokenRefreshed(ILogger logger, DateTimeOffset expiresOn);

    [LoggerMessage(2011, LogLevel.Warning, "Redis access token refresh failed; retrying")]
    private static partial void RefreshFailed(ILogger logger, Exception exception);
}
