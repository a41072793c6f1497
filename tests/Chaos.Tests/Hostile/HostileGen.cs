using System.Globalization;
using System.Text;
using CsCheck;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>How a fuzzed message travels: the RFC 6455 framing around its payload.</summary>
public enum Transport
{
    /// <summary>One text frame.</summary>
    Whole,

    /// <summary>Text split into continuation frames at <see cref="FuzzFrame.Splits"/>, with pings between them.</summary>
    Fragmented,

    /// <summary>A binary message: 1008.</summary>
    Binary,

    /// <summary>A frame that breaks RFC 6455 itself (unmasked, reserved bits or opcode, bad control frame): the WebSocket layer fails the connection with 1002.</summary>
    ProtocolViolation,
}

/// <summary>One fuzzed client message and how it is framed.</summary>
public sealed record FuzzFrame(string Label, byte[] Payload, Transport Transport, int[] Splits, int Violation)
{
    public override string ToString()
    {
        var text = Encoding.UTF8.GetString(Payload);
        return $"{Label} [{Transport}{(Splits.Length > 0 ? " at " + string.Join(',', Splits) : string.Empty)}{(Transport == Transport.ProtocolViolation ? " #" + Violation : string.Empty)}] {Payload.Length} B: {(text.Length > 160 ? text[..160] + "…" : text)}";
    }
}

/// <summary>One query parameter as it goes on the wire: its name, the raw (encoded) value, and what it decodes to.</summary>
public sealed record QueryParam(string Name, string? Encoded, string? Decoded, bool Garbled)
{
    public override string ToString() => Encoded is null ? Name : $"{Name}={Encoded}";
}

/// <summary>
/// One fuzzed connection: a query string, then messages until one ends it. <see cref="ReuseKnown"/> picks an id
/// an earlier connection took (with <see cref="RightToken"/> its token, else a wrong one) in place of the query's clientId.
/// </summary>
public sealed record FuzzSession(QueryParam[] Query, int ReuseKnown, bool RightToken, FuzzFrame[] Frames)
{
    public override string ToString() =>
        $"?{string.Join('&', Query.Select(q => q.ToString()))} reuse={ReuseKnown} rightToken={RightToken}\n  " + string.Join("\n  ", Frames.Select(f => f.ToString()));
}

/// <summary>CsCheck generators of hostile query strings and frames, aimed at the names the oracle knows.</summary>
public sealed class HostileGen(string bystander, string bystanderGroup, int maxMessageBytes)
{
    public const string GhostPrefix = "ghost-";
    public const string EmptyGroupPrefix = "nobody-";
    public const string JoinGroupPrefix = "j-";

    private const string IdChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";

    // Characters a clientId must not have: separators, braces (Redis hash tags), space, controls, non-ASCII, an emoji.
    private static readonly Gen<char> BadIdChar = Gen.OneOf(' ', '/', '{', '}', '%', '+', '#', '?', '&', '=', '"', '\\', '\0', '\n', 'é', 'ß', '中', '\u200b', '\uff10');
    private static readonly Gen<string> ValidIdText = Gen.String[Gen.Char[IdChars], 1, 40];

    private static readonly Gen<string> AnyText = Gen.Frequency(
        (4, Gen.String[Gen.Char[IdChars + " \"\\/{}[]:,"], 0, 30]),
        (2, Gen.String[Gen.Char['\0', '\u2fff'], 0, 20]),
        (1, Gen.Const("emoji 😀 and 𝄞")),
        (1, Gen.Const("tab\tnew\nline\u0001")));

    public Gen<FuzzSession> Session => Gen.Select(
        Query,
        Gen.Int[0, 9],
        Gen.Bool,
        Gen.Frequency((12, Frames.Array[1, 12]), (1, BadBurst.Array[11, 13])),
        (q, reuse, right, frames) => new FuzzSession(q, reuse, right, frames));

    /// <summary>Garbage only: enough of it in one session reaches the 11th bad frame, which closes with 1008.</summary>
    private static Gen<FuzzFrame> BadBurst => Gen.String[Gen.Char["{}[]\":,.-0123456789tfnrueals \\"], 0, 40]
        .SelectMany(t => Framed("garbage", Encoding.UTF8.GetBytes(t)));

    // ---- query strings ----

    private Gen<QueryParam[]> Query => Gen.Frequency(
        (4, Gen.Const(Array.Empty<QueryParam>())),
        (6, ValidIdText.Select(v => new[] { new QueryParam("clientId", "fz" + v, "fz" + v, false) })),
        (6, Gen.Select(Maybe(ClientIdParam, 3), Maybe(LastSeqParam, 2), Maybe(TokenParam, 2), Maybe(UnknownParam, 3), Maybe(AccessTokenParam, 6), Maybe(SinceParam, 3), Maybe(SinceParam, 6),
            (a, b, c, d, e, f, g) => new[] { a, b, c, d, e, f, g }.Where(p => p is not null).Select(p => p!).ToArray())),
        (1, Gen.Select(ClientIdParam, ClientIdParam, (a, b) => new[] { a, b })),
        (1, Gen.Select(LastSeqParam, LastSeqParam, ClientIdParam, (a, b, c) => new[] { c, a, b })),
        (1, Gen.Select(TokenParam, TokenParam, (a, b) => new[] { a, b })),
        (1, Gen.Select(Gen.OneOf("clientId", "lastSeq", "resumeToken"), n => new[] { new QueryParam(n, null, string.Empty, false) })));

    private Gen<QueryParam> ClientIdParam => Gen.Frequency(
        (6, ValidIdText.Select(v => "fz" + v)),
        (1, Gen.String[Gen.Char[IdChars], 126, 140]),
        (1, Gen.String[Gen.Char[IdChars], 200, 2000]),
        (1, Gen.Const(string.Empty)),
        (1, Gen.Const(bystander)),
        (3, Gen.Select(ValidIdText, BadIdChar, Gen.Int[0, 40], (v, c, at) => v.Insert(Math.Min(at, v.Length), c.ToString())))).SelectMany(v => Encoded("clientId", v));

    private static Gen<QueryParam> LastSeqParam => Gen.Frequency(
        (4, Gen.Long[0, 999_999_999_999_999].Select(n => n.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.Const("000000000000007")),
        (1, Gen.Const("1000000000000000")),
        (1, Gen.Const("99999999999999999999999")),
        (1, Gen.OneOf("-1", "+1", " 1", "1 ", "1e3", "0x10", "1.0", "١", "１", "NaN", "", "9223372036854775808"))).SelectMany(v => Encoded("lastSeq", v));

    /// <summary>
    /// <c>since=&lt;group&gt;:&lt;gseq&gt;</c> (contract v2 §5b): groups no fuzz session can join (so a valid one is ignored), the
    /// broadcast group, and malformed ones.
    /// </summary>
    private static Gen<QueryParam> SinceParam => Gen.Frequency(
        (4, Gen.Select(ValidIdText, Gen.Long[0, 999_999_999_999_999], (g, n) => $"sz{g}:{n.ToString(CultureInfo.InvariantCulture)}")),
        (2, Gen.Long[0, 3].Select(n => $"*:{n.ToString(CultureInfo.InvariantCulture)}")),
        (1, Gen.Const("sz:with:colons:7")),
        (2, Gen.OneOf("news", ":5", "news:", "news:-1", "news:+1", "news:1e3", "a b:1", "**:1", "*", "news:1000000000000000", "é:1", "news: 1"))).SelectMany(v => Encoded("since", v));

    private static Gen<QueryParam> TokenParam => Gen.Frequency(
        (3, Gen.String[Gen.Char[IdChars], 43, 43]),
        (1, Gen.String[Gen.Char['!', '~'], 0, 200]),
        (1, Gen.Const(string.Empty))).SelectMany(v => Encoded("resumeToken", v));

    private static Gen<QueryParam> AccessTokenParam => Gen.String[Gen.Char['!', '~'], 0, 80].SelectMany(v => Encoded("access_token", v));

    private static Gen<QueryParam> UnknownParam => Gen.Select(Gen.String[Gen.Char["abcxyz_"], 1, 8], AnyText, (n, v) => ("x" + n, v)).SelectMany(p => Encoded(p.Item1, p.Item2));

    /// <summary>The value percent-encoded one of several legal ways, or with garbage that cannot decode to a valid value.</summary>
    private static Gen<QueryParam> Encoded(string name, string value) => Gen.Frequency(
        (6, Gen.Const(new QueryParam(name, Uri.EscapeDataString(value), value, false))),
        (1, Gen.Const(new QueryParam(name, string.Concat(Encoding.UTF8.GetBytes(value).Select(b => $"%{b:X2}")), value, false))),
        (1, Gen.Const(new QueryParam(name, Uri.EscapeDataString(value).Replace("%20", "+", StringComparison.Ordinal), value, false))),
        (2, Gen.OneOf("%zz", "%", "%C3%28", "%00", "%FF%FE", "%E2%82", "%2", "+", "%20").Select(g => new QueryParam(name, Uri.EscapeDataString(value) + g, null, true))));

    private static Gen<QueryParam?> Maybe(Gen<QueryParam> gen, int outOf) =>
        Gen.Int[0, outOf - 1].SelectMany(i => i == 0 ? gen.Select(p => (QueryParam?)p) : Gen.Const<QueryParam?>((QueryParam?)null));

    // ---- frames ----

    private Gen<FuzzFrame> Frames => Gen.Frequency(
        (10, Json.SelectMany(j => Framed(j.Label, Encoding.UTF8.GetBytes(j.Text)))),
        (1, Gen.Byte.Array[0, 300].Select(b => new FuzzFrame("binary", b, Transport.Binary, [], 0))),
        // Only in messages within the limit: which of 1007 and 1009 comes first for one that is both is not documented.
        (1, Gen.Select(Json, Gen.Int[0, 1000], InvalidUtf8, (j, at, bad) => Insert(j.Text, at, bad)).Where(b => b.Length <= maxMessageBytes).SelectMany(b => Framed("invalid UTF-8", b))),
        (1, Gen.Int[maxMessageBytes - 2, maxMessageBytes * 3].SelectMany(size => Framed($"padded to {size}", Padded(size)))),
        (1, Gen.Select(Json, Gen.Int[0, 8], (j, v) => new FuzzFrame("RFC 6455 violation", Encoding.UTF8.GetBytes(j.Text), Transport.ProtocolViolation, [], v))));

    private static Gen<byte[]> InvalidUtf8 => Gen.OneOf<byte[]>([0xC3, 0x28], [0xFF], [0xFE], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0x80]);

    private static byte[] Insert(string text, int at, byte[] bad)
    {
        var bytes = Encoding.UTF8.GetBytes(text).ToList();
        // Between whole characters, so only the inserted bytes are invalid.
        var index = Math.Min(at, bytes.Count);
        while (index < bytes.Count && (bytes[index] & 0xC0) == 0x80)
        {
            index++;
        }

        bytes.InsertRange(index, bad);
        return bytes.ToArray();
    }

    /// <summary>A ping frame of exactly <paramref name="size"/> bytes.</summary>
    private static byte[] Padded(int size)
    {
        var empty = """{"type":"ping","id":"pad","pad":""}""";
        return Encoding.UTF8.GetBytes(empty.Insert(empty.Length - 2, new string('p', Math.Max(0, size - empty.Length))));
    }

    private static Gen<FuzzFrame> Framed(string label, byte[] payload) => Gen.Frequency(
        (3, Gen.Const(new FuzzFrame(label, payload, Transport.Whole, [], 0))),
        (1, Gen.Int[0, Math.Max(0, payload.Length)].Array[1, 4].Select(cuts => new FuzzFrame(label, payload, Transport.Fragmented, cuts.Order().ToArray(), 0))));

    // ---- JSON ----

    private Gen<(string Label, string Text)> Json => Gen.Frequency(
        (8, Object),
        (1, Object.SelectMany(o => Gen.Int[0, Math.Max(0, o.Text.Length - 1)].Select(cut => ("truncated " + o.Label, o.Text[..cut])))),
        (1, Gen.Select(Object, Gen.OneOf(" x", "{}", ",", "]", " 1"), (o, tail) => ("trailing data after " + o.Label, o.Text + tail))),
        (1, Gen.String[Gen.Char["{}[]\":,.-0123456789tfnrueals \\"], 0, 40].Select(t => ("garbage", t))),
        (1, Value(2).Select(v => ("not an object", v))),
        (1, Gen.Select(Gen.Int[65, 3000], Gen.Bool, (depth, arrays) => ("nested " + depth, Nested(depth, arrays)))),
        (1, Gen.OneOf(string.Empty, " ", "\n", "\t \r\n").Select(t => ("blank", t))));

    private static string Nested(int depth, bool arrays) =>
        arrays
            ? $"{{\"type\":\"send\",\"to\":\"x\",\"data\":{new string('[', depth)}{new string(']', depth)}}}"
            : $"{{\"type\":\"ping\",\"x\":{string.Concat(Enumerable.Repeat("{\"a\":", depth))}1{new string('}', depth)}}}";

    /// <summary>A frame-like object: the fields of one frame type, some dropped, retyped, doubled or joined by others.</summary>
    private Gen<(string Label, string Text)> Object =>
        Gen.Select(
            Gen.OneOf("send-to", "send-group", "join", "leave", "ping", "invoke", "event", "unknown"),
            Field.Array[0, 3],
            Gen.Int[0, 9],
            Gen.Int[0, 9],
            Whitespace,
            Gen.Bool,
            (template, extras, mutate, drop, space, escapeNames) => (template, extras, mutate, drop, space, escapeNames))
        .SelectMany(t => FieldsOf(t.template).Select(fields =>
        {
            var all = fields.ToList();
            if (t.drop == 0 && all.Count > 0)
            {
                all.RemoveAt(t.mutate % all.Count);
            }

            all.AddRange(t.extras);
            var label = t.template + (t.drop == 0 ? " minus a field" : string.Empty) + (t.extras.Length > 0 ? $" +{t.extras.Length}" : string.Empty);
            var text = "{" + t.space + string.Join("," + t.space, all.Select(f => Name(f.Name, t.escapeNames) + t.space + ":" + t.space + f.Value)) + t.space + "}";
            return (label, text);
        }));

    private Gen<(string Name, string Value)[]> FieldsOf(string template) => template switch
    {
        "send-to" => Gen.Select(TypeValue("send"), ToValue, Value(3), IdField, (ty, to, data, id) => With(id, ("type", ty), ("to", to), ("data", data))),
        "send-group" => Gen.Select(TypeValue("send"), SendGroupValue, Value(3), IdField, (ty, g, data, id) => With(id, ("type", ty), ("group", g), ("data", data))),
        "join" or "leave" => Gen.Select(TypeValue(template), JoinGroupValue, IdField, (ty, g, id) => With(id, ("type", ty), ("group", g))),
        "ping" => Gen.Select(TypeValue("ping"), IdField, (ty, id) => With(id, ("type", ty))),
        "invoke" or "event" => Gen.Select(TypeValue(template), EventNameValue, Value(3), IdField, (ty, e, data, id) => With(id, ("type", ty), ("event", e), ("data", data))),
        _ => Gen.Select(Gen.OneOf("Ping", "SEND", "shout", "pong", "welcome", "ack", "error", "message", "", " ping", "ping\u0000").Select(Str), IdField, (ty, id) => With(id, ("type", ty))),
    };

    private static (string, string)[] With((string, string)? id, params (string, string)[] fields) =>
        id is { } i ? [.. fields, i] : fields;

    /// <summary>Mostly the right type; sometimes a wrong JSON kind, which is bad-frame.</summary>
    private static Gen<string> TypeValue(string type) => Gen.Frequency((12, Gen.Const(Str(type))), (1, Scalar), (1, Gen.Const("null")));

    private Gen<string> ToValue => Gen.Frequency(
        (8, Gen.Const(Str(bystander))),
        (1, Gen.Const(EscapeAll(bystander))),
        (2, ValidIdText.Select(v => Str(GhostPrefix + v))),
        (2, BadName),
        (1, Scalar));

    private Gen<string> SendGroupValue => Gen.Frequency(
        (6, Gen.Const(Str(bystanderGroup))),
        (2, ValidIdText.Select(v => Str(EmptyGroupPrefix + v))),
        (2, BadName),
        (1, Scalar));

    private static Gen<string> JoinGroupValue => Gen.Frequency(
        (6, ValidIdText.Select(v => Str(JoinGroupPrefix + v))),
        (2, BadName),
        (1, Scalar));

    private static Gen<string> EventNameValue => Gen.Frequency(
        (6, ValidIdText.Select(Str)),
        (2, BadName),
        (1, Scalar));

    private static Gen<string> BadName => Gen.Frequency(
        (2, Gen.OneOf("", " ", "a b", "{x}", "a/b", "é", "😀", "a\u0000").Select(Str)),
        (1, Gen.String[Gen.Char[IdChars], 129, 200].Select(Str)),
        (1, Gen.Const("null")));

    private static Gen<(string, string)?> IdField => Gen.Frequency(
        (3, Gen.Const<(string, string)?>(((string, string)?)null)),
        (3, Gen.String[Gen.Char[IdChars], 0, 20].Select(s => ((string, string)?)("id", Str(s)))),
        (1, Gen.String[Gen.Char['\u0020', '\u07ff'], 0, 128].Select(s => ((string, string)?)("id", Str(s)))),
        (1, Gen.Int[126, 135].Select(n => ((string, string)?)("id", Str(new string('i', n))))),
        (2, Gen.OneOf("0", "-7", "1e3", "3.14", "-0", "12345678901234567890123", "1E-2").Select(n => ((string, string)?)("id", n))),
        (1, Gen.OneOf("null", "true", "{}", "[1]", "{\"a\":1}").Select(v => ((string, string)?)("id", v))));

    private static Gen<(string Name, string Value)> Field => Gen.Frequency(
        (4, Gen.Select(Gen.String[Gen.Char["abcxyz_"], 1, 6].Select(n => "x" + n), Value(2), (n, v) => (n, v))),
        (1, Gen.Select(Gen.OneOf("Type", "TYPE", "Id", "To", "DATA"), Value(1), (n, v) => (n, v))),
        (1, Gen.Select(Gen.OneOf("type", "id", "to", "group", "data"), Value(1), (n, v) => (n, v))));

    private static Gen<string> Scalar => Gen.OneOf(
        Gen.OneOf("null", "true", "false", "0", "-1", "1.5e300", "123456789012345678901234567890"),
        Gen.Int.Select(i => i.ToString(CultureInfo.InvariantCulture)),
        Gen.Double[-1e9, 1e9].Select(d => d.ToString("R", CultureInfo.InvariantCulture)),
        AnyText.Select(Str));

    private static Gen<string> Value(int depth) => depth == 0
        ? Scalar
        : Gen.Frequency(
            (3, Scalar),
            (1, Value(depth - 1).Array[0, 4].Select(items => "[" + string.Join(",", items) + "]")),
            (1, Gen.Select(AnyText, Value(depth - 1), (k, v) => Str(k) + ":" + v).Array[0, 4].Select(items => "{" + string.Join(",", items) + "}")));

    private static Gen<string> Whitespace => Gen.OneOf(string.Empty, string.Empty, " ", "\n", "\t", "\r\n  ");

    private static string Name(string name, bool escape) => escape && name.Length > 0 ? EscapeAll(name) : Str(name);

    /// <summary>A JSON string literal: quotes, backslashes and control characters escaped, everything else as it is.</summary>
    public static string Str(string value)
    {
        var text = new StringBuilder("\"");
        foreach (var c in value)
        {
            text.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                < ' ' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        return text.Append('"').ToString();
    }

    /// <summary>A JSON string literal with every character as a \u escape: the same string to any JSON reader.</summary>
    private static string EscapeAll(string value) => "\"" + string.Concat(value.Select(c => $"\\u{(int)c:x4}")) + "\"";
}
