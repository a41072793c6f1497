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
    private readonly Lazy<bool> _sharded = new(() => options.Value.ShardedPubSub ?? IsCluster(redis));

    public async ValueTask DeliverAsync(string serverId, string clientId, LogEntry entry, CancellationToken cancellationToken) =>
        await redis.GetSubscriber().PublishAsync(Inbox(serverId), InboxCodec.EncodeDeliver(clientId, entry));

    public async ValueTask KickAsync(string serverId, string clientId, long maxEpoch, int closeCode, CancellationToken cancellationToken) =>
        await redis.GetSubscriber().PublishAsync(Inbox(serverId), InboxCodec.EncodeKick(clientId, maxEpoch, closeCode));

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string serverId, INodeInbox inbox, CancellationToken cancellationToken)
    {
        // A queue, not a handler: messages of one channel are handled one at a time, in publish order.
        var queue = await redis.GetSubscriber().SubscribeAsync(Inbox(serverId));
        queue.OnMessage(message =>
        {
            if (!InboxCodec.Dispatch((byte[])message.Message!, inbox))
            {
                RedisLog.BadInboxMessage(logger, serverId);
            }
        });
        return new Subscription(queue);
    }

    private RedisChannel Inbox(string serverId) => RedisKeys.Inbox(serverId, _sharded.Value);

    private static bool IsCluster(IConnectionMultiplexer redis) =>
        redis.GetServers().Any(server => server.ServerType == ServerType.Cluster);

    private sealed class Subscription(ChannelMessageQueue queue) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await queue.UnsubscribeAsync();
    }
}
