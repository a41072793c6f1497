using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// Every Redis key and channel of ServerlessWs, and the only place that spells one (docs/design.md "Redis schema").
/// Keys that one script touches share a hash tag (<c>{c:…}</c>, <c>{g:…}</c>, <c>{s:…}</c>), so each script
/// runs in one slot of a Redis Cluster. Ids are already limited to <c>[A-Za-z0-9._:-]</c>, so no id can close a
/// tag or forge another key.
/// </summary>
internal static class RedisKeys
{
    /// <summary>Hash <c>server, epoch, connectedAt, tokenHash, seq</c>: who owns the id. Slot of <c>{c:id}</c>; expires <c>Ws:SessionTtlSeconds</c> after release.</summary>
    public static RedisKey Owner(string clientId) => $"ws:{{c:{clientId}}}:owner";

    /// <summary>Stream of the client's messages, entry id <c>seq-0</c>, fields <c>f</c> (from), <c>g</c> (group), <c>d</c> (data), <c>t</c> (appended, ms). Slot of <c>{c:id}</c>.</summary>
    public static RedisKey Log(string clientId) => $"ws:{{c:{clientId}}}:log";

    /// <summary>Set of the groups the client joined, kept across resumes. Slot of <c>{c:id}</c>.</summary>
    public static RedisKey ClientGroups(string clientId) => $"ws:{{c:{clientId}}}:groups";

    /// <summary>
    /// Sorted set of the client ids in a group, scored by when the membership lapses (Unix ms): <c>+inf</c> while the
    /// member's session is connected, its session's expiry once released. A group send prunes lapsed ids and counts
    /// the rest (to answer <c>unknown</c> when the sender is alone); a join counts them against
    /// <c>Ws:MaxMembersPerGroup</c>. Slot of <c>{g:group}</c>. (v1 kept a plain set under <c>…:members</c>.)
    /// </summary>
    public static RedisKey GroupMembers(string group) => $"ws:{{g:{group}}}:joined";

    /// <summary>
    /// Integer: the group's counter, the gseq of its newest message (contract v2). Kept without a TTL so gseq never
    /// goes backwards while anyone may hold a position in the group. Slot of <c>{g:group}</c>.
    /// </summary>
    public static RedisKey GroupSeq(string group) => $"ws:{{g:{group}}}:gseq";

    /// <summary>
    /// Stream of the group's messages, one entry per message whatever the member count, entry id <c>gseq-0</c>,
    /// fields <c>f</c> (from), <c>d</c> (data), <c>t</c> (appended, ms); bounded by <c>Ws:LogMaxMessages</c> and
    /// expiring <c>Ws:LogMaxAgeSeconds</c> after its last append. Slot of <c>{g:group}</c>.
    /// </summary>
    public static RedisKey GroupLog(string group) => $"ws:{{g:{group}}}:log";

    /// <summary>String with a TTL of <c>Ws:LeaseSeconds</c>: the server is alive while it exists. Slot of <c>{s:id}</c>.</summary>
    public static RedisKey Lease(string serverId) => $"ws:{{s:{serverId}}}:lease";

    /// <summary>
    /// The ids a server owns, kept by the reconciler (may lag). A sorted set with every score 0 (docs/design.md says
    /// set): ordered by id, so the admin list can page with the last id as its cursor and return each id once
    /// while others come and go. Slot of <c>{s:id}</c>.
    /// </summary>
    public static RedisKey ServerClients(string serverId) => $"ws:{{s:{serverId}}}:clients";

    /// <summary>Sorted set (scores 0) of every connected client id, kept by the reconciler: the admin list and broadcast walk it.</summary>
    public static readonly RedisKey Clients = "ws:clients";

    /// <summary>Sorted set serverId → last lease renewal (Unix ms): how cleanup finds dead servers.</summary>
    public static readonly RedisKey Servers = "ws:servers";

    /// <summary>Stream of <c>claimed</c>, <c>released</c>, <c>takeover</c>, <c>server-down</c> events for the reconciler.</summary>
    public static readonly RedisKey Events = "ws:events";

    /// <summary>SCAN pattern of every owner hash (<see cref="Owner"/>): how the index repair finds the sessions.</summary>
    public const string OwnerPattern = "ws:{c:*}:owner";

    /// <summary>The client id of an owner hash's key, or null when <paramref name="key"/> is not one.</summary>
    public static string? ClientIdOfOwner(string key) =>
        key.StartsWith("ws:{c:", StringComparison.Ordinal) && key.EndsWith("}:owner", StringComparison.Ordinal) && key.Length > 13
            ? key[6..^7]
            : null;

    /// <summary>Stream of events the reconciler gave up on after its retries, with the reason.</summary>
    public static readonly RedisKey DeadLetters = "ws:events:dead";

    /// <summary>
    /// Sorted set of the takeover event ids the reconciler counted (score: when, Unix ms), capped to the newest
    /// <c>ClusterRegistry.ReconciledKept</c>: makes a redelivered event count once, in one key of bounded size
    /// whatever the takeover rate.
    /// </summary>
    public static readonly RedisKey Reconciled = "ws:reconciled";

    /// <summary>
    /// Stream of one partition of the durable upstream events (docs/protocol.md §7), fields in
    /// <c>UpstreamRecordCodec</c>: a client's events all go to partition <c>hash(clientId) mod Upstream:Partitions</c>,
    /// in order. Bounded by <c>Upstream:StreamMaxLength</c> (the append refuses, never trims); the dispatcher deletes
    /// what it delivered. Consumer group <c>dispatcher</c>. Each partition its own slot <c>{up:n}</c>.
    /// </summary>
    public static RedisKey UpstreamEvents(int partition) => $"ws:{{up:{partition}}}:events";

    /// <summary>String with a TTL of <c>Upstream:LeaseSeconds</c>: which dispatcher reads the partition now (its token). Slot of <c>{up:n}</c>.</summary>
    public static RedisKey UpstreamLease(int partition) => $"ws:{{up:{partition}}}:lease";

    /// <summary>
    /// String with a TTL of <c>Upstream:LeaseSeconds</c>: which dispatcher turns <c>ws:events</c> into lifecycle events
    /// now (one at a time, so a client's lifecycle events are appended in order).
    /// </summary>
    public static readonly RedisKey UpstreamLifecycleLease = "ws:{up}:lifecycle-lease";

    /// <summary>Stream of upstream events given up after <c>Upstream:MaxAttempts</c>, capped at <c>Upstream:DeadLetterMaxLength</c> (oldest trimmed).</summary>
    public static readonly RedisKey UpstreamDeadLetters = "ws:{up}:dead";

    /// <summary>Hash of counters for the admin API and the dashboard (fields in <see cref="StatsFields"/>).</summary>
    public static readonly RedisKey Stats = "ws:stats";

    /// <summary>
    /// Channel of a group's doorbells, payload <see cref="InboxCodec"/> (a deliver of the group entry): the nodes
    /// that hold members of the group subscribe to it, so one publish reaches each such node once, whatever the
    /// member count. Sharded on a cluster, served by the shard of <c>{g:group}</c>.
    /// </summary>
    public static RedisChannel GroupBell(string group, bool sharded) =>
        sharded ? RedisChannel.Sharded($"ws:{{g:{group}}}:bell") : RedisChannel.Literal($"ws:{{g:{group}}}:bell");

    /// <summary>
    /// Channel of one server's commands (deliver, kick), payload <see cref="InboxCodec"/>. Sharded on a cluster, so
    /// it is served by the shard of <c>{s:id}</c> and not broadcast to every node.
    /// </summary>
    public static RedisChannel Inbox(string serverId, bool sharded) =>
        sharded ? RedisChannel.Sharded($"ws:{{s:{serverId}}}:inbox") : RedisChannel.Literal($"ws:{{s:{serverId}}}:inbox");
}

/// <summary>Fields of <see cref="RedisKeys.Stats"/>.</summary>
internal static class StatsFields
{
    /// <summary>Messages appended to a recipient's log (direct, group and admin sends).</summary>
    public const string MessagesRouted = "messagesRouted";

    /// <summary>Claims that took a live id from another socket.</summary>
    public const string Takeovers = "takeovers";

    /// <summary>Entries of dead servers released by cleanup.</summary>
    public const string StaleRemoved = "staleRemoved";
}

/// <summary>Fields of <see cref="RedisKeys.Owner"/> read outside the session scripts (which spell the same names).</summary>
internal static class OwnerFields
{
    /// <summary>The server that holds the id's socket; empty once released.</summary>
    public const string Server = "server";

    public const string Epoch = "epoch";

    /// <summary>When the current claim was made (Unix ms).</summary>
    public const string ConnectedAt = "connectedAt";

    /// <summary>The seq of the newest entry appended to the client's log.</summary>
    public const string Seq = "seq";
}
