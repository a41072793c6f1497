using StackExchange.Redis;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// A Lua script and the decoder of its reply, kept together so the reply's shape is read where it is written down
/// (each script's header). Run through StackExchange.Redis's own script cache: the library loads the script once
/// per server and runs it by its SHA1 (EVALSHA), loading it again after a NOSCRIPT (a restart, a new node).
/// </summary>
internal sealed class RedisScript<TReply>(string text, Func<RedisResult, TReply> decode)
{
    public string Text { get; } = text;

    public async Task<TReply> EvaluateAsync(IDatabaseAsync database, RedisKey[] keys, RedisValue[] values) =>
        decode(await database.ScriptEvaluateAsync(Text, keys, values));
}
