using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// Server inboxes over Redis pub/sub: a doorbell or a kick is published to the owner's own channel only, so a
/// node receives just the traffic for its own sockets (not every message of the cluster, as one shared channel
/// would do). Pub/sub may drop a message; the log does not, and the owner fills gaps from it.
/// </summary>
public sealed class RedisNodeBus(IConnectionMultiplexer redis, IOptions<RedisOptions> options, ILogger<RedisNodeBus> logger) : INodeBus
{
    private static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(30);

    private readonly Lazy<bool> _sharded = new(() => options.Value.ShardedPubSub ?? IsCluster(redis));

    public async ValueTask DeliverAsync(string serverId, string clientId, LogEntry entry, CancellationToken cancellationToken) =>
        await RedisFailures.Guard(() => redis.GetSubscriber().PublishAsync(Inbox(serverId), InboxCodec.EncodeDeliver(clientId, entry)), "publish");

    public async ValueTask KickAsync(string serverId, string clientId, long maxEpoch, int closeCode, CancellationToken cancellationToken) =>
        await RedisFailures.Guard(() => redis.GetSubscriber().PublishAsync(Inbox(serverId), InboxCodec.EncodeKick(clientId, maxEpoch, closeCode)), "publish");

    public async ValueTask RingGroupAsync(LogEntry entry, CancellationToken cancellationToken) =>
        await RedisFailures.Guard(() => redis.GetSubscriber().PublishAsync(RedisKeys.GroupBell(entry.Group!, _sharded.Value), InboxCodec.EncodeGroupEntry(entry)), "publish");

    public async ValueTask<IAsyncDisposable> SubscribeGroupAsync(string group, Func<LogEntry, Task> onEntry, CancellationToken cancellationToken)
    {
        // One queue per group: its doorbells are handled one at a time, in publish order; other groups go on meanwhile.
        var queue = await SubscribeWhenConnectedAsync(RedisKeys.GroupBell(group, _sharded.Value), cancellationToken);
        queue.OnMessage(async message =>
        {
            if (InboxCodec.DecodeGroupEntry((byte[])message.Message!) is { } entry)
            {
                await onEntry(entry);
            }
            else
            {
                RedisLog.BadInboxMessage(logger, group);
            }
        });
        return new Subscription(queue);
    }

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string serverId, INodeInbox inbox, CancellationToken cancellationToken)
    {
        // A queue, not a handler: messages of one channel are handled one at a time, in publish order.
        var queue = await SubscribeWhenConnectedAsync(Inbox(serverId), cancellationToken);
        queue.OnMessage(message =>
        {
            if (!InboxCodec.Dispatch((byte[])message.Message!, inbox))
            {
                RedisLog.BadInboxMessage(logger, serverId);
            }
        });
        return new Subscription(queue);
    }

    /// <summary>
    /// The multiplexer can still be connecting when the host starts, and commands fail at once while it is (no
    /// backlog, by design): the subscription is retried until Redis answers, for at most <see cref="StartupWait"/>.
    /// </summary>
    private async Task<ChannelMessageQueue> SubscribeWhenConnectedAsync(RedisChannel channel, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartupWait;
        while (true)
        {
            try
            {
                return await redis.GetSubscriber().SubscribeAsync(channel);
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
            catch (Exception e) when (RedisFailures.IsUnavailable(e))
            {
                throw RedisFailures.Unavailable("subscribe", e);
            }
        }
    }

    private RedisChannel Inbox(string serverId) => RedisKeys.Inbox(serverId, _sharded.Value);

    private static bool IsCluster(IConnectionMultiplexer redis) =>
        redis.GetServers().Any(server => server.ServerType == ServerType.Cluster);

    private sealed class Subscription(ChannelMessageQueue queue) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await queue.UnsubscribeAsync();
    }
}
