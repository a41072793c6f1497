using System.Security.Cryptography;
using System.Text;

namespace ServerlessWs.Core.Sessions;

/// <summary>
/// Resume tokens: 256 random bits, kept by the store only as a SHA-256 hash and compared in constant time, so a
/// read of the store (or a log line) never yields a usable token.
/// </summary>
public static class ResumeTokens
{
    private const int TokenBytes = 32;

    public static string Create()
    {
        Span<byte> bytes = stackalloc byte[TokenBytes];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Whether <paramref name="presented"/> hashes to <paramref name="storedHash"/>, in constant time.</summary>
    public static bool Matches(string? presented, ReadOnlySpan<byte> storedHash) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Hash(presented), storedHash);
}
