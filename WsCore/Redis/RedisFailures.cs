using ServerlessWs.Core.Sessions;
using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// Which Redis failures mean "the store is unavailable" (turned into <see cref="StoreUnavailableException"/>) and
/// which mean a bug (left as they are, so a wrong key type or a script error is not reported as an outage).
/// </summary>
internal static class RedisFailures
{
    // Replies a deployment gives while it cannot serve for a reason of its own, not of the request: loading a
    // dataset, a failover, a full memory, a cluster slot moving or down, writes stopped after a failed snapshot
    // (MISCONF), credentials or permissions the operator must fix.
    private static readonly string[] UnavailableReplies =
        ["LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "OOM", "NOREPLICAS", "NOAUTH", "WRONGPASS", "MISCONF", "NOPERM"];

    public static bool IsUnavailable(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException => true,
        RedisServerException server => UnavailableReplies.Any(reply => server.Message.StartsWith(reply, StringComparison.Ordinal)),
        _ => false,
    };

    /// <summary>The typed failure for <paramref name="operation"/>, wrapping the Redis exception.</summary>
    public static StoreUnavailableException Unavailable(string operation, Exception e) =>
        new($"The coordination store cannot be reached ({operation}).", e);

    /// <summary>
    /// Makes and awaits a Redis call, turning an outage into <see cref="StoreUnavailableException"/>. The call is made
    /// inside: with no connection the client may fail at once, before it has a task to return.
    /// </summary>
    public static async Task<T> Guard<T>(Func<Task<T>> call, string operation)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (IsUnavailable(e))
        {
            throw Unavailable(operation, e);
        }
    }

    /// <inheritdoc cref="Guard{T}(Func{Task{T}}, string)"/>
    public static async Task Guard(Func<Task> call, string operation)
    {
        try
        {
            await call();
        }
        catch (Exception e) when (IsUnavailable(e))
        {
            throw Unavailable(operation, e);
        }
    }
}
