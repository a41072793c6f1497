using Microsoft.Extensions.Options;
using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Core.Upstream;

/// <summary>
/// The durable upstream events in Redis (docs/protocol.md §7, docs/design.md): <c>Upstream:Partitions</c> streams
/// <c>ws:{up:n}:events</c>, a client's events all in the partition of its id, appended by WsApp (and by the
/// dispatcher for lifecycle events), read by the dispatcher in consumer group <see cref="Group"/> under a lease per
/// partition, deleted once delivered or parked in <c>ws:{up}:dead</c>. Records are written and read only by
/// <see cref="UpstreamRecordCodec"/>. Every call throws <see cref="Sessions.StoreUnavailableException"/> when Redis
/// cannot be reached.
/// </summary>
public sealed class UpstreamEventLog(IConnectionMultiplexer redis, IOptions<UpstreamOptions> options)
{
    /// <summary>The consumer group on every partition.</summary>
    public const string Group = "dispatcher";

    private const string Operation = "upstream";

    private readonly UpstreamOptions _options = options.Value;
    private readonly bool[] _groupReady = new bool[options.Value.Partitions];

    private IDatabase Db => redis.GetDatabase();

    public int Partitions => _options.Partitions;

    /// <summary>
    /// The partition of <paramref name="clientId"/>: FNV-1a of its characters (ids are ASCII) modulo
    /// <paramref name="partitions"/>, the same in every process and version, so one client's events share a stream.
    /// </summary>
    public static int PartitionOf(string clientId, int partitions)
    {
        var hash = 2166136261u;
        foreach (var c in clientId)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)partitions);
    }

    /// <summary>
    /// Appends <paramref name="record"/> to its client's partition. False when the partition already holds
    /// <c>Upstream:StreamMaxLength</c> events not yet delivered: nothing is stored and nothing older is dropped.
    /// </summary>
    public async Task<bool> AppendAsync(UpstreamRecord record)
    {
        var id = await AppendAsync(PartitionOf(record.ClientId, Partitions), UpstreamRecordCodec.Encode(record), _options.StreamMaxLength);
        return !id.IsNull;
    }

    /// <summary>Entries of <paramref name="partition"/> no consumer has been given yet, oldest first, now <paramref name="consumer"/>'s.</summary>
    public Task<IReadOnlyList<ReceivedUpstream>> ReadNewAsync(int partition, string consumer, int count) =>
        WithGroupAsync(partition, async () =>
        {
            var entries = await Db.StreamReadGroupAsync(RedisKeys.UpstreamEvents(partition), Group, consumer, StreamPosition.NewMessages, count);
            return (IReadOnlyList<ReceivedUpstream>)entries.Select(e => UpstreamRecordCodec.Read(partition, e)).ToArray();
        });

    /// <summary>
    /// Every entry of <paramref name="partition"/> handed out but not acknowledged (by any consumer: a dead holder, or
    /// this one after a failed attempt), oldest first, now <paramref name="consumer"/>'s. Safe only for the lease's
    /// holder: it takes entries another consumer may still be working on.
    /// </summary>
    public Task<IReadOnlyList<ReceivedUpstream>> ClaimPendingAsync(int partition, string consumer, int count) =>
        WithGroupAsync(partition, async () =>
        {
            var claimed = await Db.StreamAutoClaimAsync(RedisKeys.UpstreamEvents(partition), Group, consumer, 0, "0-0", count);
            return (IReadOnlyList<ReceivedUpstream>)claimed.ClaimedEntries.Where(e => !e.IsNull).Select(e => UpstreamRecordCodec.Read(partition, e)).ToArray();
        });

    /// <summary>Acknowledges and deletes a delivered entry, so a partition's length is what is still to deliver.</summary>
    public Task AcknowledgeAsync(ReceivedUpstream entry) =>
        RedisFailures.Guard(async () =>
        {
            var key = RedisKeys.UpstreamEvents(entry.Partition);
            var transaction = Db.CreateTransaction();
            var acknowledged = transaction.StreamAcknowledgeAsync(key, Group, entry.EntryId);
            var deleted = transaction.StreamDeleteAsync(key, [entry.EntryId]);
            await transaction.ExecuteAsync();
            await Task.WhenAll(acknowledged, deleted);
        }, Operation);

    /// <summary>
    /// Parks <paramref name="entry"/> in <c>ws:{up}:dead</c> with why and after how many attempts (the oldest dead
    /// letters past <c>Upstream:DeadLetterMaxLength</c> are trimmed), then acknowledges and deletes it.
    /// </summary>
    public async Task DeadLetterAsync(ReceivedUpstream entry, string reason, int attempts)
    {
        await RedisFailures.Guard(
            () => Db.StreamAddAsync(RedisKeys.UpstreamDeadLetters, UpstreamRecordCodec.EncodeDead(entry, reason, attempts), maxLength: _options.DeadLetterMaxLength),
            Operation);
        await AcknowledgeAsync(entry);
    }

    /// <summary>Dead letters after <paramref name="after"/> (a dead letter's id, exclusive; null from the oldest), at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<UpstreamDeadLetter>> ListDeadLettersAsync(string? after, int limit)
    {
        var entries = await RedisFailures.Guard(
            () => Db.StreamRangeAsync(RedisKeys.UpstreamDeadLetters, after is null ? "-" : "(" + after, "+", limit),
            Operation);
        return entries.Select(UpstreamRecordCodec.ReadDead).ToArray();
    }

    /// <summary>
    /// Moves the dead letter <paramref name="id"/> back to its client's partition as it was first stored (same ce-id,
    /// attempts counted afresh), whatever the partition holds: an operator's replay is bounded by the dead letters
    /// there are. Appended before it is deleted, so a failure between the two
    /// leaves a duplicate with the same ce-id, never a loss. Returns the dead letter moved, or null when there is none.
    /// </summary>
    public async Task<UpstreamDeadLetter?> ReplayAsync(string id)
    {
        var found = await RedisFailures.Guard(() => Db.StreamRangeAsync(RedisKeys.UpstreamDeadLetters, id, id, 1), Operation);
        if (found.Length == 0)
        {
            return null;
        }

        var dead = UpstreamRecordCodec.Read(0, found[0]);
        var partition = dead.Record is { } record ? PartitionOf(record.ClientId, Partitions) : 0;
        await AppendAsync(partition, UpstreamRecordCodec.Stored(dead), maxLength: 0);
        await RedisFailures.Guard(() => Db.StreamDeleteAsync(RedisKeys.UpstreamDeadLetters, [id]), Operation);
        return UpstreamRecordCodec.ReadDead(found[0]);
    }

    /// <summary>Events in <paramref name="partition"/> not yet delivered (nor parked).</summary>
    public Task<long> LengthAsync(int partition) => RedisFailures.Guard(() => Db.StreamLengthAsync(RedisKeys.UpstreamEvents(partition)), Operation);

    /// <summary>
    /// Takes or renews the lease on <paramref name="partition"/> (null: the lifecycle reader's) for
    /// <paramref name="ttl"/>; true while <paramref name="token"/> holds it. <see cref="TimeSpan.Zero"/> gives it back.
    /// </summary>
    public async Task<bool> HoldAsync(int? partition, string token, TimeSpan ttl)
    {
        var key = partition is { } n ? RedisKeys.UpstreamLease(n) : RedisKeys.UpstreamLifecycleLease;
        return await RedisFailures.Guard(
            () => SessionScripts.Lease.EvaluateAsync(Db, [key], [token, (long)ttl.TotalMilliseconds]),
            Operation);
    }

    private Task<RedisValue> AppendAsync(int partition, NameValueEntry[] fields, int maxLength)
    {
        var values = new RedisValue[1 + (fields.Length * 2)];
        values[0] = maxLength;
        for (var i = 0; i < fields.Length; i++)
        {
            values[1 + (2 * i)] = fields[i].Name;
            values[2 + (2 * i)] = fields[i].Value;
        }

        return RedisFailures.Guard(
            () => SessionScripts.UpstreamAppend.EvaluateAsync(Db, [RedisKeys.UpstreamEvents(partition)], values),
            Operation);
    }

    /// <summary>Runs a read with the partition's group in place (created with the stream; again after a Redis restart lost it).</summary>
    private async Task<IReadOnlyList<ReceivedUpstream>> WithGroupAsync(int partition, Func<Task<IReadOnlyList<ReceivedUpstream>>> read)
    {
        try
        {
            await EnsureGroupAsync(partition);
            return await read();
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            _groupReady[partition] = false;
            await RedisFailures.Guard(() => EnsureGroupAsync(partition), Operation);
            return await RedisFailures.Guard(read, Operation);
        }
        catch (Exception e) when (RedisFailures.IsUnavailable(e))
        {
            _groupReady[partition] = false;
            throw RedisFailures.Unavailable(Operation, e);
        }
    }

    private async Task EnsureGroupAsync(int partition)
    {
        if (_groupReady[partition])
        {
            return;
        }

        try
        {
            // From the start: events appended before any dispatcher ran are delivered too.
            await Db.StreamCreateConsumerGroupAsync(RedisKeys.UpstreamEvents(partition), Group, "0-0", createStream: true);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Already there.
        }

        _groupReady[partition] = true;
    }
}
