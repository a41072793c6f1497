using System.Globalization;
using ServerlessWs.Core.Protocol;
using StackExchange.Redis;

namespace ServerlessWs.Core.Upstream;

/// <summary>
/// The one place that writes and reads an upstream record (as <c>ClusterEventCodec</c> is for <c>ws:events</c>):
/// <code>
/// id        the ce-id
/// kind      user | lifecycle
/// event     the event's name
/// clientId  the client
/// userId    the token's subject; empty when none
/// serverId  the node that accepted it
/// time      when, Unix ms
/// data      the body, one JSON value
/// reason    dead letters only: why it was given up
/// attempts  dead letters only: calls made
/// </code>
/// </summary>
internal static class UpstreamRecordCodec
{
    private const string IdField = "id";
    private const string KindField = "kind";
    private const string EventField = "event";
    private const string ClientField = "clientId";
    private const string UserField = "userId";
    private const string ServerField = "serverId";
    private const string TimeField = "time";
    private const string DataField = "data";
    private const string ReasonField = "reason";
    private const string AttemptsField = "attempts";

    public static NameValueEntry[] Encode(UpstreamRecord r) =>
    [
        new(IdField, r.CeId), new(KindField, r.Kind == UpstreamKind.User ? "user" : "lifecycle"), new(EventField, r.Event),
        new(ClientField, r.ClientId), new(UserField, r.UserId ?? string.Empty), new(ServerField, r.ServerId),
        new(TimeField, r.Time.ToUnixTimeMilliseconds()), new(DataField, r.Data),
    ];

    /// <summary>The record of stored fields; null when they are not a valid record (a bad id, kind or time).</summary>
    public static UpstreamRecord? Decode(NameValueEntry[] fields)
    {
        string? ceId = null, kind = null, name = null, clientId = null, userId = null, serverId = null, time = null;
        byte[]? data = null;
        foreach (var field in fields)
        {
            switch ((string?)field.Name)
            {
                case IdField: ceId = field.Value; break;
                case KindField: kind = field.Value; break;
                case EventField: name = field.Value; break;
                case ClientField: clientId = field.Value; break;
                case UserField: userId = field.Value; break;
                case ServerField: serverId = field.Value; break;
                case TimeField: time = field.Value; break;
                case DataField: data = field.Value; break;
            }
        }

        if (!IsId(ceId) || !IsId(name) || !IsId(clientId) || !IsId(serverId) || data is null
            || !long.TryParse(time, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            || kind is not ("user" or "lifecycle"))
        {
            return null;
        }

        return new UpstreamRecord(
            ceId!, kind == "user" ? UpstreamKind.User : UpstreamKind.Lifecycle, name!, clientId!, string.IsNullOrEmpty(userId) ? null : userId,
            serverId!, DateTimeOffset.FromUnixTimeMilliseconds(ms), data);
    }

    public static ReceivedUpstream Read(int partition, StreamEntry entry) =>
        new(partition, (string)entry.Id!, Decode(entry.Values)) { Fields = entry.Values };

    /// <summary>A dead letter's fields: the entry as it was stored, with why and after how many attempts it was given up.</summary>
    public static NameValueEntry[] EncodeDead(ReceivedUpstream entry, string reason, int attempts) =>
        [.. Stored(entry), new(ReasonField, reason), new(AttemptsField, attempts)];

    /// <summary>The entry's fields as first stored (a dead letter's without why and how often it failed): what a replay appends.</summary>
    public static NameValueEntry[] Stored(ReceivedUpstream entry) =>
        [.. entry.Fields.Where(f => (string?)f.Name is not (ReasonField or AttemptsField))];

    public static UpstreamDeadLetter ReadDead(StreamEntry entry) =>
        new((string)entry.Id!, Decode(entry.Values), (string?)entry[ReasonField] ?? string.Empty, (int?)entry[AttemptsField] ?? 0);

    private static bool IsId(string? value) => value is not null && Identifiers.IsValid(value);
}
