using System.Text.Json;

namespace ServerlessWs.Core.Protocol;

/// <summary>
/// A message's <c>data</c> that did not come in a client frame (an admin API body, an upstream handler's answer):
/// read within <c>Ws:MaxMessageBytes</c> and checked before it goes out verbatim inside a frame.
/// </summary>
public static class MessageData
{
    /// <summary>
    /// How deep <c>data</c> may nest: one level less than a frame may (docs/protocol.md §5a), as a message wraps it,
    /// and a client may read frames with the 64 levels the contract allows (System.Text.Json's default).
    /// </summary>
    public const int MaxDepth = 63;

    /// <summary>Why some bytes cannot be a message's <c>data</c>.</summary>
    public enum Problem
    {
        None,

        /// <summary>Not UTF-8: JSON readers do not check the encoding inside strings, but a text frame must be UTF-8 (1007).</summary>
        NotUtf8,

        /// <summary>Not one JSON value of at most <see cref="MaxDepth"/> levels.</summary>
        NotJson,
    }

    /// <summary>The whole stream, or null once it is over <paramref name="limit"/> bytes (the rest is not read).</summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, int limit, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            body.Write(buffer, 0, read);
            if (body.Length > limit)
            {
                return null;
            }
        }

        return body.ToArray();
    }

    /// <summary>Whether <paramref name="data"/> can go out as a message's <c>data</c>, and if not why.</summary>
    public static Problem Check(byte[] data)
    {
        if (!System.Text.Unicode.Utf8.IsValid(data))
        {
            return Problem.NotUtf8;
        }

        try
        {
            using var json = JsonDocument.Parse(data, new JsonDocumentOptions { MaxDepth = MaxDepth });
            return Problem.None;
        }
        catch (JsonException)
        {
            return Problem.NotJson;
        }
    }
}
