using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Core.Cluster;

/// <summary>
/// The reader's side of <c>ws:events</c>: one consumer group (<see cref="Group"/>), entries handed out to a named
/// consumer, acknowledged once handled, claimed again when left pending, parked in <c>ws:events:dead</c> when given up.
/// Writers append through the session store and the registry (<see cref="ClusterEventCodec"/>). Every call throws
/// <see cref="Sessions.StoreUnavailableException"/> when Redis cannot be reached.
/// </summary>
public sealed class ClusterEventFeed(IConnectionMultiplexer redis)
{
    /// <summary>The consumer group on <c>ws:events</c>.</summary>
    public const string Group = "reconciler";

    private volatile bool _groupReady;

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Entries pending for at least <paramref name="idle"/> (their consumer died, or handling failed), now this consumer's.</summary>
    public Task<IReadOnlyList<ReceivedEvent>> ClaimIdleAsync(string consumer, TimeSpan idle, int count) =>
        WithGroupAsync(async () =>
        {
            var claimed = await Db.StreamAutoClaimAsync(RedisKeys.Events, Group, consumer, (long)idle.TotalMilliseconds, "0-0", count);
            return (IReadOnlyList<ReceivedEvent>)claimed.ClaimedEntries.Where(e => !e.IsNull).Select(ClusterEventCodec.Read).ToArray();
        });

    /// <summary>Entries no consumer of the group has seen yet.</summary>
    public Task<IReadOnlyList<ReceivedEvent>> ReadNewAsync(string consumer, int count) =>
        WithGroupAsync(async () =>
        {
            var entries = await Db.StreamReadGroupAsync(RedisKeys.Events, Group, consumer, StreamPosition.NewMessages, count);
            return (IReadOnlyList<ReceivedEvent>)entries.Select(ClusterEventCodec.Read).ToArray();
        });

    /// <summary>How many times the group has handed out the entry <paramref name="id"/>.</summary>
    public async Task<long> DeliveriesAsync(string id)
    {
        var pending = await RedisFailures.Guard(() => Db.StreamPendingMessagesAsync(RedisKeys.Events, Group, 1, RedisValue.Null, id, id), "events");
        return pending.Length == 0 ? 0 : pending[0].DeliveryCount;
    }

    public Task AcknowledgeAsync(string id) => RedisFailures.Guard(() => Db.StreamAcknowledgeAsync(RedisKeys.Events, Group, id), "events");

    /// <summary>Parks the entry in <c>ws:events:dead</c> with <paramref name="reason"/>, and acknowledges it.</summary>
    public async Task DeadLetterAsync(ReceivedEvent entry, string reason)
    {
        NameValueEntry[] fields = [new("id", entry.Id), new("reason", reason), .. entry.Fields];
        await RedisFailures.Guard(() => Db.StreamAddAsync(RedisKeys.DeadLetters, fields), "events");
        await AcknowledgeAsync(entry.Id);
    }

    /// <summary>
    /// Runs a read with the group in place: created on first use, and again when the stream was lost (a Redis restart
    /// without persistence answers NOGROUP).
    /// </summary>
    private async Task<IReadOnlyList<ReceivedEvent>> WithGroupAsync(Func<Task<IReadOnlyList<ReceivedEvent>>> read)
    {
        try
        {
            await EnsureGroupAsync();
            return await read();
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            _groupReady = false;
            await RedisFailures.Guard(() => EnsureGroupAsync(), "events");
            return await RedisFailures.Guard(() => read(), "events");
        }
        catch (Exception e) when (RedisFailures.IsUnavailable(e))
        {
            // The store may come back empty: check the group again then.
            _groupReady = false;
            throw RedisFailures.Unavailable("events", e);
        }
    }

    private async Task EnsureGroupAsync()
    {
        if (_groupReady)
        {
            return;
        }

        try
        {
            // From the start of the stream: events written before the reconciler first ran (or before the group was
            // lost, such as the re-asserts of a Redis restart) are reconciled too.
            await Db.StreamCreateConsumerGroupAsync(RedisKeys.Events, Group, "0-0", createStream: true);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Already there.
        }

        _groupReady = true;
    }
}
