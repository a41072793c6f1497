using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace ServerlessWs.App.Upgrade;

/// <summary>What <see cref="UpgradeRequestHead.Parse"/> made of the bytes a connection sent first.</summary>
internal enum HeadStatus
{
    /// <summary>Could still be <c>GET /ws</c>; more bytes are needed.</summary>
    Incomplete,

    /// <summary>Not a <c>GET /ws</c> HTTP/1.1 request head: Kestrel's HTTP parser gets the bytes untouched.</summary>
    PassThrough,

    /// <summary>A whole <c>GET /ws</c> HTTP/1.1 head (whether it asks for an upgrade is the caller's question).</summary>
    Complete,

    /// <summary>A <c>GET /ws</c> head longer than <see cref="UpgradeRequestHead.MaxBytes"/>: 431.</summary>
    TooLarge,

    /// <summary>A <c>GET /ws</c> head that is not valid HTTP/1.1: 400.</summary>
    Malformed,
}

/// <summary>
/// The HTTP/1.1 request head of a connection's first request when it is <c>GET /ws…</c>, parsed by
/// <see cref="WebSocketFastPath"/> (RFC 9112 §2-5). Strict where the upgrade depends on it; anything that is not
/// plainly a <c>GET /ws</c> head is left to Kestrel, so this parser never has to be a general one.
/// </summary>
internal sealed class UpgradeRequestHead
{
    /// <summary>The bound on the head, request line included (Kestrel's header limit is the same 32 KiB).</summary>
    public const int MaxBytes = 32 * 1024;

    // A connection whose first bytes are these is handed to Kestrel at once; "GET /ws " and "GET /ws?" are ours.
    private static ReadOnlySpan<byte> Prefix => "GET /ws"u8;

    // One value each, or the upgrade is ambiguous (RFC 6455 §4.1; RFC 9112 §6.3 for the framing headers).
    private static readonly string[] SingleValued =
    [
        HeaderNames.Host, HeaderNames.Upgrade, HeaderNames.SecWebSocketKey, HeaderNames.SecWebSocketVersion,
        HeaderNames.ContentLength, HeaderNames.TransferEncoding, HeaderNames.Origin,
    ];

    /// <summary>No query and no headers: the stand-in when a head could not be read.</summary>
    public static UpgradeRequestHead Empty => new(string.Empty, []);

    private UpgradeRequestHead(string queryString, HeaderDictionary headers, int requestLineBytes = 0, int fieldCount = 0)
    {
        QueryString = queryString;
        Headers = headers;
        RequestLineBytes = requestLineBytes;
        FieldCount = fieldCount;
    }

    /// <summary>The request line's length, its CRLF aside: what Kestrel's <c>MaxRequestLineSize</c> bounds.</summary>
    public int RequestLineBytes { get; }

    /// <summary>Header fields as sent (a name given twice counts twice), as Kestrel's <c>MaxRequestHeaderCount</c> counts them.</summary>
    public int FieldCount { get; }

    /// <summary>The query, with its leading <c>?</c>, or empty.</summary>
    public string QueryString { get; }

    public IHeaderDictionary Headers { get; }

    /// <summary>
    /// Reads a request head from the start of <paramref name="buffer"/>. <paramref name="end"/> is the position just
    /// past the blank line (for <see cref="HeadStatus.Complete"/>); <paramref name="error"/> says what is wrong (for
    /// <see cref="HeadStatus.Malformed"/>).
    /// </summary>
    public static HeadStatus Parse(ReadOnlySequence<byte> buffer, out SequencePosition end, out UpgradeRequestHead? head, out string? error)
    {
        end = buffer.Start;
        head = null;
        error = null;

        // Decide from the first bytes whether this is ours: a TLS hello, an HTTP/2 preface or GET /other goes on untouched.
        Span<byte> first = stackalloc byte[Prefix.Length + 1];
        var available = (int)Math.Min(buffer.Length, first.Length);
        buffer.Slice(0, available).CopyTo(first);
        var known = first[..available];
        if (!known[..Math.Min(available, Prefix.Length)].SequenceEqual(Prefix[..Math.Min(available, Prefix.Length)]))
        {
            return HeadStatus.PassThrough;
        }

        if (available <= Prefix.Length)
        {
            return HeadStatus.Incomplete;
        }

        if (known[Prefix.Length] is not ((byte)' ' or (byte)'?'))
        {
            return HeadStatus.PassThrough;
        }

        // Find the blank line that ends the head, line by line so a bare LF is refused rather than waited on.
        var reader = new SequenceReader<byte>(buffer);
        var lines = new List<ReadOnlySequence<byte>>();
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
            {
                return buffer.Length >= MaxBytes ? HeadStatus.TooLarge : HeadStatus.Incomplete;
            }

            if (reader.Consumed > MaxBytes)
            {
                return HeadStatus.TooLarge;
            }

            if (line.IsEmpty || !line.Slice(line.Length - 1).FirstSpan.SequenceEqual("\r"u8))
            {
                error = "A line of the request head does not end with CRLF.";
                return HeadStatus.Malformed;
            }

            if (line.Length == 1)
            {
                break;
            }

            lines.Add(line.Slice(0, line.Length - 1));
        }

        end = reader.Position;
        return ParseLines(lines, out head, out error);
    }

    private static HeadStatus ParseLines(List<ReadOnlySequence<byte>> lines, out UpgradeRequestHead? head, out string? error)
    {
        head = null;
        error = null;

        // Request line: "GET /ws[?query] HTTP/1.1" with single spaces (RFC 9112 §3).
        var requestLine = lines[0].ToArray().AsSpan();
        var firstSpace = requestLine.IndexOf((byte)' ');
        var lastSpace = requestLine.LastIndexOf((byte)' ');
        if (firstSpace == lastSpace)
        {
            error = "The request line is malformed.";
            return HeadStatus.Malformed;
        }

        var target = requestLine[(firstSpace + 1)..lastSpace];
        var version = requestLine[(lastSpace + 1)..];
        if (!version.SequenceEqual("HTTP/1.1"u8))
        {
            // HTTP/1.0 (no upgrade) and anything stranger: Kestrel answers as it always does.
            return HeadStatus.PassThrough;
        }

        foreach (var b in target)
        {
            if (b is < 0x21 or > 0x7E)
            {
                error = "The request target is malformed.";
                return HeadStatus.Malformed;
            }
        }

        var question = target.IndexOf((byte)'?');
        var path = question < 0 ? target : target[..question];
        if (!path.SequenceEqual("/ws"u8))
        {
            return HeadStatus.PassThrough;
        }

        var query = question < 0 ? string.Empty : Encoding.ASCII.GetString(target[question..]);
        var headers = new HeaderDictionary(lines.Count - 1);
        for (var i = 1; i < lines.Count; i++)
        {
            if (!TryParseField(lines[i].ToArray(), out var name, out var value))
            {
                error = "A header field of the request is malformed.";
                return HeadStatus.Malformed;
            }

            if (headers.ContainsKey(name) && SingleValued.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                error = $"The request has more than one {name} header.";
                return HeadStatus.Malformed;
            }

            headers.Append(name, value);
        }

        head = new UpgradeRequestHead(query, headers, requestLine.Length, lines.Count - 1);
        return HeadStatus.Complete;
    }

    /// <summary><c>name ":" OWS value OWS</c>, name a token, value visible ASCII, spaces and tabs (RFC 9110 §5).</summary>
    private static bool TryParseField(ReadOnlySpan<byte> line, out string name, out string value)
    {
        name = value = string.Empty;
        var colon = line.IndexOf((byte)':');
        if (colon <= 0)
        {
            return false;
        }

        foreach (var b in line[..colon])
        {
            if (!IsTokenChar(b))
            {
                // Whitespace before the colon and obs-fold continuation lines land here too (RFC 9112 §5.1, §5.2).
                return false;
            }
        }

        var raw = line[(colon + 1)..].Trim(" \t"u8);
        foreach (var b in raw)
        {
            if (b is not (>= 0x20 and <= 0x7E or (byte)'\t'))
            {
                return false;
            }
        }

        name = Encoding.ASCII.GetString(line[..colon]);
        value = Encoding.ASCII.GetString(raw);
        return true;
    }

    private static bool IsTokenChar(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
            or (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*' or (byte)'+'
            or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
}
