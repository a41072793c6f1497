using System.Globalization;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Redis;
using StackExchange.Redis;

namespace ServerlessWs.Core.Cluster;

/// <summary>
/// The one place that writes and reads a <c>ws:events</c> record (as <see cref="InboxCodec"/> is for the inbox):
/// <code>
/// type      claimed | takeover | released | server-down
/// server    the server the event is about
/// clientId  the client id (not on server-down)
/// epoch     the claim's epoch, decimal (not on server-down)
/// previous  on takeover: the server that held the id before
/// </code>
/// </summary>
internal static class ClusterEventCodec
{
    // The events stream is a feed for the reconciler, not a record: it is capped (approximately, which is cheap).
    public const int MaxLength = 100_000;

    private const string TypeField = "type";
    private const string ServerField = "server";
    private const string ClientField = "clientId";
    private const string EpochField = "epoch";
    private const string PreviousField = "previous";

    public static NameValueEntry[] Encode(ClusterEvent e) => e.Type switch
    {
        ClusterEventType.ServerDown => [new(TypeField, Name(e.Type)), new(ServerField, e.Server)],
        ClusterEventType.Takeover =>
        [
            new(TypeField, Name(e.Type)), new(ClientField, e.ClientId), new(ServerField, e.Server), new(EpochField, e.Epoch),
            new(PreviousField, e.PreviousServer),
        ],
        _ => [new(TypeField, Name(e.Type)), new(ClientField, e.ClientId), new(ServerField, e.Server), new(EpochField, e.Epoch)],
    };

    /// <summary>The event of a stream entry; null when the entry is not a valid event (wrong type, bad id, no epoch).</summary>
    public static ClusterEvent? Decode(NameValueEntry[] fields)
    {
        string? type = null, server = null, clientId = null, epochText = null, previous = null;
        foreach (var field in fields)
        {
            switch ((string?)field.Name)
            {
                case TypeField: type = field.Value; break;
                case ServerField: server = field.Value; break;
                case ClientField: clientId = field.Value; break;
                case EpochField: epochText = field.Value; break;
                case PreviousField: previous = field.Value; break;
            }
        }

        if (!IsId(server))
        {
            return null;
        }

        if (type == "server-down")
        {
            return ClusterEvent.ServerDown(server!);
        }

        if (!IsId(clientId) || !long.TryParse(epochText, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            return null;
        }

        return type switch
        {
            "claimed" => ClusterEvent.Claimed(clientId!, server!, epoch),
            "released" => ClusterEvent.Released(clientId!, server!, epoch),
            "takeover" when IsId(previous) => ClusterEvent.Takeover(clientId!, server!, epoch, previous!),
            _ => null,
        };
    }

    public static ReceivedEvent Read(StreamEntry entry) =>
        new((string)entry.Id!, Decode(entry.Values)) { TypeName = (string?)entry[TypeField] ?? "?", Fields = entry.Values };

    /// <summary>Appends <paramref name="e"/> to <c>ws:events</c>.</summary>
    public static Task AppendAsync(IDatabaseAsync db, ClusterEvent e) =>
        db.StreamAddAsync(RedisKeys.Events, Encode(e), maxLength: MaxLength, useApproximateMaxLength: true);

    /// <summary>Appends <paramref name="e"/> to <c>ws:events</c> without waiting for the reply.</summary>
    public static void AppendFireAndForget(IDatabase db, ClusterEvent e) =>
        db.StreamAdd(RedisKeys.Events, Encode(e), maxLength: MaxLength, useApproximateMaxLength: true, flags: CommandFlags.FireAndForget);

    private static string Name(ClusterEventType type) => type switch
    {
        ClusterEventType.Claimed => "claimed",
        ClusterEventType.Takeover => "takeover",
        ClusterEventType.Released => "released",
        _ => "server-down",
    };

    private static bool IsId(string? value) => value is not null && Identifiers.IsValid(value);
}
