using System.Security.Cryptography;
using System.Text;

namespace ServerlessWs.Client;

/// <summary>
/// The signature of a request to the application's handler (docs/protocol.md §7): HMAC-SHA256, keyed with each of the
/// configured signing keys, over the UTF-8 of the values of <see cref="SignedHeaders"/> (each followed by a line feed;
/// an absent header is empty) and then the body, sent in the <see cref="HeaderName"/> header as
/// <c>sha256=&lt;hex&gt;</c> entries separated by commas, one per key. Who the call is from (client, user, server),
/// what it is (<c>ce-type</c>, <c>ce-id</c>) and when it was sent (<see cref="TimestampHeader"/>) are all signed, so
/// none can be changed, and an old call cannot be sent again after the verifier's tolerance. A handler accepts a
/// request when any entry matches any key it knows, so keys can be rotated without a gap. The service signs with this
/// class and a handler verifies with it: the format has one definition.
/// </summary>
public static class UpstreamSignature
{
    public const string HeaderName = "X-ServerlessWs-Signature";

    /// <summary>When the call was sent, in Unix seconds: signed, so a verifier can refuse a call replayed later.</summary>
    public const string TimestampHeader = "X-ServerlessWs-Timestamp";

    private const string Scheme = "sha256=";

    /// <summary>The headers whose values are signed, in this order, before the body.</summary>
    public static IReadOnlyList<string> SignedHeaders { get; } =
        [TimestampHeader, "ce-id", "ce-type", "ce-source", "ce-time", "ce-clientid", "ce-serverid", "ce-userid"];

    /// <summary>
    /// The <see cref="HeaderName"/> value for a request whose headers <paramref name="header"/> answers (by name, null
    /// when absent) and whose body is <paramref name="body"/>, signed with every key.
    /// </summary>
    public static string Sign(IEnumerable<string> keys, Func<string, string?> header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var message = Message(header, body);
        return string.Join(',', keys.Select(key => Scheme + Convert.ToHexStringLower(Hash(key, message))));
    }

    /// <summary>Whether the request's <see cref="HeaderName"/> carries a signature of its signed headers and body by any of <paramref name="keys"/>.</summary>
    public static bool Verify(IEnumerable<string> keys, Func<string, string?> header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(header);
        if (header(HeaderName) is not { Length: > 0 } signatures)
        {
            return false;
        }

        var message = Message(header, body);
        var given = signatures.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(entry => entry.StartsWith(Scheme, StringComparison.Ordinal))
            .Select(entry => Encoding.ASCII.GetBytes(entry[Scheme.Length..]))
            .ToArray();
        var verified = false;
        foreach (var key in keys)
        {
            var expected = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(Hash(key, message)));
            foreach (var signature in given)
            {
                // Constant time per comparison, and every pair compared: what a forger learns from timing is nothing.
                verified |= CryptographicOperations.FixedTimeEquals(expected, signature);
            }
        }

        return verified;
    }

    private static byte[] Hash(string key, byte[] message) => HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), message);

    private static byte[] Message(Func<string, string?> header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(header);
        var attributes = new StringBuilder();
        foreach (var name in SignedHeaders)
        {
            attributes.Append(header(name)).Append('\n');
        }

        var signed = Encoding.UTF8.GetBytes(attributes.ToString());
        var message = new byte[signed.Length + body.Length];
        signed.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(signed.Length));
        return message;
    }
}
