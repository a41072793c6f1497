using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Core.Cluster;

/// <summary>
/// A reader's side of <c>ws:events</c>: one consumer group (<see cref="Group"/>, the reconciler's, or the upstream
/// dispatcher's through <see cref="ForUpstream"/>), entries handed out to a named consumer, acknowledged once handled,
/// claimed again when left pending, parked in <c>ws:events:dead</c> when given up. Writers append through the session
/// store and the registry (<see cref="ClusterEventCodec"/>). Every call throws
/// <see cref="Sessions.StoreUnavailableException"/> when Redis cannot be reached.
/// </summary>
public sealed class ClusterEventFeed
{
    /// <summary>The reconciler's consumer group on <c>ws:events</c>.</summary>
    public const string Group = "reconciler";

    /// <summary>The upstream dispatcher's consumer group on <c>ws:events</c> (lifecycle events).</summary>
    public const string UpstreamGroup = "upstream";

    private readonly IConnectionMultiplexer _redis;
    private readonly string _group;
    private readonly string _start;
    private volatile bool _groupReady;

    public ClusterEventFeed(IConnectionMultiplexer redis)
        : this(redis, Group, "0-0")
    {
    }

    private ClusterEventFeed(IConnectionMultiplexer redis, string group, string start)
    {
        _redis = redis;
        _group = group;
        _start = start;
    }

    /// <summary>
    /// The feed of the upstream dispatcher's own group, which starts at the events written after it is first made
    /// (a first deployment does not send the handler every connect the stream still remembers).
    /// </summary>
    public ClusterEventFeed ForUpstream() => new(_redis, UpstreamGroup, "$");

    private IDatabase Db => _redis.GetDatabase();

    /// <summary>Entries pending for at least <paramref name="idle"/> (their consumer died, or handling failed), now this consumer's.</summary>
    public Task<IReadOnlyList<ReceivedEvent>> ClaimIdleAsync(string consumer, TimeSpan idle, int count) =>
        WithGroupAsync(async () =>
        {
            var claimed = await Db.StreamAutoClaimAsync(RedisKeys.Events, _group, consumer, (long)idle.TotalMilliseconds, "0-0", count);
            return (IReadOnlyList<ReceivedEvent>)claimed.ClaimedEntries.Where(e => !e.IsNull).Select(ClusterEventCodec.Read).ToArray();
        });

    /// <summary>Entries no consumer of the group has seen yet.</summary>
    public Task<IReadOnlyList<ReceivedEvent>> ReadNewAsync(string consumer, int count) =>
        WithGroupAsync(async () =>
        {
            var entries = await Db.StreamReadGroupAsync(RedisKeys.Events, _group, consumer, StreamPosition.NewMessages, count);
            return (IReadOnlyList<ReceivedEvent>)entries.Select(ClusterEventCodec.Read).ToArray();
        });

    /// <summary>How many times the group has handed out the entry <paramref name="id"/>.</summary>
    public async Task<long> DeliveriesAsync(string id)
    {
        var pending = await RedisFailures.Guard(() => Db.StreamPendingMessagesAsync(RedisKeys.Events, _group, 1, RedisValue.Null, id, id), "events");
        return pending.Length == 0 ? 0 : pending[0].DeliveryCount;
    }

    public Task AcknowledgeAsync(string id) => RedisFailures.Guard(() => Db.StreamAcknowledgeAsync(RedisKeys.Events, _group, id), "events");

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
            // The reconciler's from the start of the stream: events written before it first ran (or before the group
            // was lost, such as the re-asserts of a Redis restart) are reconciled too.
            await Db.StreamCreateConsumerGroupAsync(RedisKeys.Events, _group, _start, createStream: true);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Already there.
        }

        _groupReady = true;
    }
}
