using System.Security.Cryptography;
using System.Text;

namespace ServerlessWs.Client;

/// <summary>
/// The signature of a request to the application's handler (docs/protocol.md §7): HMAC-SHA256, keyed with each of the
/// configured signing keys, over the UTF-8 of the request's <c>ce-id</c>, a line feed, and the body, sent in the
/// <see cref="HeaderName"/> header as <c>sha256=&lt;hex&gt;</c> entries separated by commas, one per key. A handler
/// accepts a request when any entry matches any key it knows, so keys can be rotated without a gap. The service signs
/// with this class and a handler verifies with it: the format has one definition.
/// </summary>
public static class UpstreamSignature
{
    public const string HeaderName = "X-ServerlessWs-Signature";

    private const string Scheme = "sha256=";

    /// <summary>The header value for <paramref name="ceId"/> and <paramref name="body"/>, signed with every key.</summary>
    public static string Sign(IEnumerable<string> keys, string ceId, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var message = Message(ceId, body);
        return string.Join(',', keys.Select(key => Scheme + Convert.ToHexStringLower(Hash(key, message))));
    }

    /// <summary>Whether <paramref name="header"/> carries a signature of <paramref name="ceId"/> and <paramref name="body"/> by any of <paramref name="keys"/>.</summary>
    public static bool Verify(IEnumerable<string> keys, string ceId, ReadOnlySpan<byte> body, string? header)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }

        var message = Message(ceId, body);
        var given = header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
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

    private static byte[] Message(string ceId, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(ceId);
        var id = Encoding.UTF8.GetBytes(ceId);
        var message = new byte[id.Length + 1 + body.Length];
        id.CopyTo(message, 0);
        message[id.Length] = (byte)'\n';
        body.CopyTo(message.AsSpan(id.Length + 1));
        return message;
    }
}
