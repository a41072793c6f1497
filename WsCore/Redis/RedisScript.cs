using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// A Lua script run by its SHA1 (EVALSHA). When a server does not have it (first use, a restart, a new cluster
/// node) it answers NOSCRIPT, and the script is sent once with EVAL, which also caches it there.
/// </summary>
internal sealed class RedisScript(string text)
{
    // SHA1 is what Redis names scripts by; it is an identifier here, not a security measure.
#pragma warning disable CA5350
    private readonly byte[] _sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350

    public string Text { get; } = text;

    public async Task<RedisResult> EvaluateAsync(IDatabaseAsync database, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            return await database.ScriptEvaluateAsync(_sha1, keys, values);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await database.ScriptEvaluateAsync(Text, keys, values);
        }
    }
}
