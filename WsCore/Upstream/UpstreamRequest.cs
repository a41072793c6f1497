using System.Globalization;
using System.Net.Http.Headers;
using ServerlessWs.Client;

namespace ServerlessWs.Core.Upstream;

/// <summary>
/// A call of the application's handler as a CloudEvents 1.0 HTTP request in binary mode (docs/protocol.md §7): the
/// client's <c>data</c> is the body; the attributes are <c>ce-*</c> headers, set by the server from the connection,
/// never from what the client sent.
/// </summary>
public static class UpstreamRequest
{
    /// <summary>The <c>ce-type</c> prefix of what a client sent (<c>invoke</c> and <c>event</c> frames).</summary>
    public const string UserTypePrefix = "serverlessws.user.";

    /// <summary>The call for an <c>invoke</c>, sent at <paramref name="time"/> (also its <c>ce-time</c>).</summary>
    public static HttpRequestMessage Create(
        UpstreamOptions options, string ceId, string eventName, string clientId, string serverId, string? userId, DateTimeOffset time, byte[] body) =>
        CreateOfType(options, ceId, UserTypePrefix + eventName, clientId, serverId, userId, time, body, sentAt: time);

    /// <summary>The call for a stored event (a client's or a lifecycle event), its attributes as stored, sent at <paramref name="sentAt"/>.</summary>
    public static HttpRequestMessage Create(UpstreamOptions options, UpstreamRecord record, DateTimeOffset sentAt) =>
        CreateOfType(options, record.CeId, record.CeType, record.ClientId, record.ServerId, record.UserId, record.Time, record.Data, sentAt);

    private static HttpRequestMessage CreateOfType(
        UpstreamOptions options, string ceId, string ceType, string clientId, string serverId, string? userId, DateTimeOffset time, byte[] body, DateTimeOffset sentAt)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, options.Url)
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var headers = request.Headers;
        headers.Add("ce-specversion", "1.0");
        headers.Add("ce-id", ceId);
        headers.Add("ce-source", "/clients/" + clientId);
        headers.Add("ce-type", ceType);
        headers.Add("ce-time", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        headers.Add("ce-clientid", clientId);
        headers.Add("ce-serverid", serverId);
        if (userId is not null)
        {
            headers.Add("ce-userid", PercentEncode(userId));
        }

        headers.Add(UpstreamSignature.TimestampHeader, sentAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        headers.Add(UpstreamSignature.HeaderName, UpstreamSignature.Sign(
            options.SigningKeys, name => headers.TryGetValues(name, out var values) ? values.First() : null, body));
        return request;
    }

    /// <summary>
    /// A string attribute as the CloudEvents HTTP binding writes it: UTF-8, with every byte outside printable ASCII,
    /// and space, <c>"</c> and <c>%</c>, percent-encoded (a token's subject may hold anything).
    /// </summary>
    public static string PercentEncode(string value)
    {
        var builder = new System.Text.StringBuilder(value.Length);
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(value))
        {
            if (b is > 0x20 and < 0x7F and not (byte)'"' and not (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
