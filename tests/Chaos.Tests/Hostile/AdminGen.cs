using System.Text;
using CsCheck;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>The admin routes of docs/protocol.md §6, each named after the function it maps to.</summary>
public enum AdminRoute
{
    ListServers,
    GetClient,
    ListClients,
    SendToClient,
    SendToGroup,
    Broadcast,
    CloseClient,
    GetStats,
}

/// <summary>One admin request: the route (and its method), the route value, the raw query string and the raw body.</summary>
public sealed record AdminInput(AdminRoute Route, string? RouteValue, string Query, byte[]? Body, bool DeclaresLength, string BodyLabel)
{
    public string Method => Route switch
    {
        AdminRoute.SendToClient or AdminRoute.SendToGroup or AdminRoute.Broadcast => "POST",
        AdminRoute.CloseClient => "DELETE",
        _ => "GET",
    };

    public override string ToString()
    {
        var value = RouteValue is null ? string.Empty : RouteValue.Length > 40 ? $" [{RouteValue[..40]}… ({RouteValue.Length} chars)]" : $" [{RouteValue}]";
        var body = Body is null ? string.Empty : $" body {BodyLabel} ({Body.Length} bytes{(DeclaresLength ? string.Empty : ", no Content-Length")})";
        var query = Query.Length > 80 ? Query[..80] + "…" : Query;
        return $"{Method} {Route}{value}{query}{body}";
    }
}

/// <summary>
/// CsCheck generators for hostile admin requests: route values valid, unknown, too long, huge, empty, with odd
/// characters or percent garbage; paging queries with limits and cursors of the wrong type, range or count;
/// bodies that are random JSON, nested around the depth limit, invalid, empty, invalid UTF-8, around the size limit.
/// The live names are passed in, so every request's documented answer is known by construction.
/// </summary>
public sealed class AdminGen(string bystander, string victim, string group, int maxMessageBytes)
{
    private const string IdChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";

    public Gen<AdminInput> Input => Gen.Frequency(
        (1, Gen.Const(AdminRoute.ListServers)),
        (1, Gen.Const(AdminRoute.GetStats)),
        (3, Gen.Const(AdminRoute.GetClient)),
        (3, Gen.Const(AdminRoute.ListClients)),
        (6, Gen.Const(AdminRoute.SendToClient)),
        (4, Gen.Const(AdminRoute.SendToGroup)),
        (2, Gen.Const(AdminRoute.Broadcast)),
        (2, Gen.Const(AdminRoute.CloseClient)))
        .SelectMany(route => Gen.Select(RouteValueFor(route), QueryFor(route), BodyFor(route), Gen.Int[0, 3], (value, query, body, noLength) =>
            new AdminInput(route, value, query, body?.Bytes, noLength > 0, body?.Label ?? string.Empty)));

    // ---- route values ----

    private Gen<string?> RouteValueFor(AdminRoute route) => route switch
    {
        AdminRoute.GetClient or AdminRoute.SendToClient => ClientId(includeBystander: true).Select(v => (string?)v),
        // Closing the bystander would be a documented 4001, not a bystander left alone.
        AdminRoute.CloseClient => ClientId(includeBystander: false).Select(v => (string?)v),
        AdminRoute.SendToGroup => Name(Gen.Const(group)).Select(v => (string?)v),
        _ => Gen.Const<string?>((string?)null),
    };

    private Gen<string> ClientId(bool includeBystander) => includeBystander
        ? Gen.Frequency((4, Gen.Const(bystander)), (3, Name(Gen.Const(victim))))
        : Name(Gen.Const(victim));

    /// <summary>A live name, or a name nobody holds, or one the contract refuses.</summary>
    private static Gen<string> Name(Gen<string> live) => Gen.Frequency(
        (4, live),
        (3, Gen.Char[IdChars].Array[1, 40].Select(c => "ghost-" + new string(c))),
        (1, Gen.Char[IdChars].Array[128, 128].Select(c => new string(c))),
        (1, Gen.Char[IdChars].Array[129, 300].Select(c => new string(c))),
        (1, Gen.Int[10_000, 100_000].Select(n => new string('a', n))),
        (1, Gen.Const<string>(string.Empty)),
        (2, Gen.Select(live, OddText, Gen.Int[0, 2], (name, odd, where) => where switch { 0 => odd + name, 1 => name + odd, _ => odd })),
        (2, Gen.Select(live, Gen.OneOf("%zz", "%", "%C3%28", "%00", "%2F", "%20", "+", "%FF%FE"), (name, g) => name + g)),
        (1, live.Select(n => string.Equals(n.ToUpperInvariant(), n, StringComparison.Ordinal) ? n + "X" : n.ToUpperInvariant())));

    /// <summary>Characters outside [A-Za-z0-9._:-]: spaces, separators, control characters, non-ASCII, a lone surrogate.</summary>
    private static Gen<string> OddText => Gen.OneOf(
        " ", "/", "../", "\\", "?", "#", "&", "=", "\u0000", "\t", "\n", "é", "名前", "😀", "\uD800", "\u200B", "*", "'", "\"", "{}", "%", "a b");

    // ---- queries ----

    private static Gen<string> QueryFor(AdminRoute route) => route == AdminRoute.ListClients
        ? Gen.Select(Param("server", ServerValue, 3), Param("cursor", CursorValue, 3), Param("limit", LimitValue, 2), Junk, Gen.Int[0, 5], Assemble)
        : Gen.Frequency((3, Gen.Const(string.Empty)), (1, Junk.Select(j => j.Length == 0 ? string.Empty : "?" + j)));

    private static string Assemble(string server, string cursor, string limit, string junk, int order)
    {
        var present = new[] { server, cursor, limit, junk }.Where(p => p.Length > 0).ToArray();
        var rotated = present.Skip(order % Math.Max(1, present.Length)).Concat(present.Take(order % Math.Max(1, present.Length)));
        return present.Length == 0 ? string.Empty : "?" + string.Join('&', rotated);
    }

    /// <summary>Absent, once, or repeated; each value as its encoded text.</summary>
    private static Gen<string> Param(string name, Gen<string> encodedValue, int absentWeight) => Gen.Frequency(
        (absentWeight, Gen.Const<string>(string.Empty)),
        (4, encodedValue.Select(v => $"{name}={v}")),
        (1, Gen.Select(encodedValue, encodedValue, (a, b) => $"{name}={a}&{name}={b}")),
        (1, Gen.Const(name)),
        (1, Gen.Const(name + "=")));

    private static Gen<string> ServerValue => Gen.Frequency(
        (3, Gen.OneOf("n1", "n2", "nobody")),
        (2, Gen.Char[IdChars].Array[1, 20].Select(c => Uri.EscapeDataString(new string(c)))),
        (2, OddText.Select(Uri.EscapeDataString)),
        (1, Gen.OneOf("%zz", "%", "%C3%28", "%00", "+", "n1%2Cn2")));

    private static Gen<string> CursorValue => Gen.Frequency(
        (3, Gen.Char[IdChars].Array[1, 20].Select(c => Uri.EscapeDataString(new string(c)))),
        (1, Gen.Char[IdChars].Array[129, 200].Select(c => new string(c))),
        (2, OddText.Select(Uri.EscapeDataString)),
        (1, Gen.OneOf("%zz", "%", "%C3%28", "%00", "+", "a%2Cb")));

    private static Gen<string> LimitValue => Gen.Frequency(
        (3, Gen.Int[1, 1000].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        (2, Gen.OneOf("0", "-1", "1001", "2147483647", "2147483648", "99999999999999999999", "+5", "5.0", "1e3", "0x10", " 5", "5 ", "%35", "%2B5", "abc", "NaN", "true", "null", "٣", "05", "0001000")),
        (1, Gen.Int.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        (1, Gen.Double.Select(d => Uri.EscapeDataString(d.ToString(System.Globalization.CultureInfo.InvariantCulture)))));

    private static Gen<string> Junk => Gen.Frequency(
        (3, Gen.Const<string>(string.Empty)),
        (1, Gen.OneOf("x=1", "code=abc", "=", "&&", "a", "%zz=%zz", "clientId=bystander", "limit", "server=", "%00=%00", "a=b=c")));

    // ---- bodies ----

    private Gen<(byte[] Bytes, string Label)?> BodyFor(AdminRoute route) => route is AdminRoute.SendToClient or AdminRoute.SendToGroup or AdminRoute.Broadcast
        ? Body.Select(b => ((byte[], string)?)b)
        : Gen.Frequency((4, Gen.Const<(byte[], string)?>(((byte[], string)?)null)), (1, Body.Select(b => ((byte[], string)?)b)));

    private Gen<(byte[] Bytes, string Label)> Body => Gen.Frequency(
        (8, Json(3).Select(j => (Utf8(j), "json"))),
        (2, Gen.Select(Gen.Int[55, 70], Gen.Bool, (depth, objects) => (Utf8(Nested(depth, objects)), $"nested {depth}"))),
        (2, Json(2).SelectMany(j => Broken(j)).Select(b => (Utf8(b), "invalid JSON"))),
        (1, Gen.OneOf(string.Empty, " ", "\r\n\t ").Select(s => (Utf8(s), "empty or blank"))),
        (1, Gen.Select(Json(2), Gen.Int[0, 200], InvalidUtf8, (j, at, bad) => (Insert(j, at, bad), "invalid UTF-8"))),
        (2, Gen.Int[maxMessageBytes - 3, maxMessageBytes * 3].Select(n => (Padded(n), $"padded to {n}"))),
        (1, Json(2).Select(j => (new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Utf8(j)).ToArray(), "BOM + json"))),
        (1, Gen.Byte.Array[1, 64].Select(b => (b, "random bytes"))));

    /// <summary>Random JSON text: every value kind, escapes, non-ASCII, big and odd numbers, duplicate keys, whitespace.</summary>
    private static Gen<string> Json(int depth)
    {
        var scalar = Gen.Frequency(
            (2, JsonString),
            (2, Gen.Long.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (1, Gen.OneOf("0", "-0", "1e308", "-1.5E-300", "123456789012345678901234567890", "0.1", "1E+2")),
            (1, Gen.OneOf("true", "false", "null")));
        if (depth == 0)
        {
            return scalar;
        }

        var inner = Json(depth - 1);
        return Gen.Frequency(
            (3, scalar),
            (1, inner.Array[0, 4].Select(items => "[" + string.Join(",", items) + "]")),
            (2, Gen.Select(JsonString.Array[0, 4], inner.Array[4, 4], (keys, values) =>
                "{" + string.Join(",", keys.Select((k, i) => k + ":" + values[i])) + "}")),
            (1, inner.Select(j => " \n" + j + "\t ")));
    }

    private static Gen<string> JsonString => Gen.Frequency(
        (3, Gen.Char[IdChars + " "].Array[0, 12].Select(c => "\"" + new string(c) + "\"")),
        (1, Gen.OneOf("\"é名😀\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\uDBFF\\uDFFF\"", "\"type\"", "\"data\"")));

    private static string Nested(int depth, bool objects) => objects
        ? string.Concat(Enumerable.Repeat("{\"a\":", depth - 1)) + "1" + new string('}', depth - 1)
        : new string('[', depth) + new string(']', depth);

    private static Gen<string> Broken(string json) => Gen.OneOf(
        Gen.Const(json + " x"),
        Gen.Const(json + json),
        Gen.Const(json.Length > 1 ? json[..(json.Length / 2)] : "{"),
        Gen.OneOf("{'a':1}", "{a:1}", "[1,]", "{\"a\":1,}", "NaN", "Infinity", "undefined", "/* c */ 1", "01", "1.", ".5", "\"\\x41\"", "\"tab\there\"", "{\"a\"}", "]", "nul"));

    private static Gen<byte[]> InvalidUtf8 => Gen.OneOf<byte[]>([0xC3, 0x28], [0xFF], [0xFE], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0x80]);

    /// <summary>Invalid UTF-8 inside a JSON string, so only the encoding is wrong.</summary>
    private static byte[] Insert(string json, int at, byte[] bad)
    {
        var text = Utf8("[\"" + new string('x', at % 20) + "\"," + json + "]");
        var index = 2 + (at % 20);
        return [.. text[..index], .. bad, .. text[index..]];
    }

    /// <summary>A JSON string of exactly <paramref name="size"/> bytes.</summary>
    private static byte[] Padded(int size) => Utf8("\"" + new string('p', Math.Max(0, size - 2)) + "\"");

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Whether a route value is one the contract accepts (1-128 chars of [A-Za-z0-9._:-]).</summary>
    public static bool IsName(string? value) => Identifiers.IsValid(value);
}
