namespace ServerlessWs.Client;

// The admin API's answers (docs/protocol.md §6). WsFunctions answers with these same records, so what it writes and
// what the typed client reads are one definition.

/// <summary>A live server: its id, the connections the index gives it, and when its lease runs out.</summary>
public sealed record ServerView(string Id, long Connections, DateTimeOffset LeaseExpiresAt);

/// <summary>A client as the registry knows it; <see cref="Server"/> is null while it is disconnected.</summary>
public sealed record ClientView(string ClientId, string? Server, bool Connected, long Epoch, DateTimeOffset ConnectedAt);

/// <summary>One page of connected clients; pass <see cref="NextCursor"/> back as <c>cursor</c> for the next (null on the last).</summary>
public sealed record ClientPage(IReadOnlyList<ClientListItem> Items, string? NextCursor);

/// <summary>A connected client in a <see cref="ClientPage"/>.</summary>
public sealed record ClientListItem(string ClientId, string? Server);

/// <summary>The outcome of an admin send: <c>delivered</c> or <c>queued</c> (a broadcast also says how many).</summary>
public sealed record SendResult(string Status, long? Recipients = null);

/// <summary>Fleet totals: live servers, connected clients and the counters.</summary>
public sealed record StatsView(long Servers, long Connections, long MessagesRouted, long Takeovers, long StaleEntriesRemoved);

/// <summary>
/// A parked upstream event: its id in the dead-letter stream (the replay route's), why and after how many calls it was
/// given up, and the event as stored (null fields when the stored entry was unreadable).
/// </summary>
public sealed record DeadLetterView(
    string Id, string Reason, int Attempts, string? CeId, string? Kind, string? Event, string? ClientId, string? UserId, string? ServerId,
    DateTimeOffset? Time, System.Text.Json.JsonElement? Data);

/// <summary>One page of dead letters, oldest first; pass <see cref="NextAfter"/> back as <c>after</c> for the next.</summary>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetterView> Items, string? NextAfter);

/// <summary>A dead letter moved back to its partition, to be delivered again with its ce-id.</summary>
public sealed record ReplayResult(string Id, string? CeId);
