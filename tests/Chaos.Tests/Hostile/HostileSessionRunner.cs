using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Security;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>
/// Plays fuzzed sessions against one node, one at a time, and checks each input's answer against the contract:
/// the upgrade's status (and welcome), then for every message its reply or close code. It keeps what the answers
/// depend on: the ids that connected and their tokens, the bad frames counted towards 1008, and the messages the
/// bystander is owed.
/// </summary>
public sealed partial class HostileSessionRunner(WsNode node, string bystander, string bystanderToken, FrameOracle oracle, int maxMessageBytes)
{
    /// <summary>
    /// RFC 6455 §7.1.7: an endpoint that sees a framing violation fails the connection, either with a 1002 close
    /// frame or by just closing TCP. Either is the documented answer.
    /// </summary>
    public const int Failed = -1002;

    /// <summary>
    /// Invalid UTF-8 fails the connection too (RFC 6455 §8.1), in the WebSocket layer: it sends 1007 and closes at once,
    /// so when more of the client's bytes are in flight the peer's TCP reset can discard that close frame.
    /// </summary>
    public const int FailedInvalidUtf8 = -1007;

    private static readonly TimeSpan Within = TestClient.Timeout;
    private readonly List<(string Id, string Token)> _known = [(bystander, bystanderToken)];
    private int _sync;

    public Tally Tally { get; } = new();

    /// <summary>Messages the bystander must receive, in order.</summary>
    public List<Delivery> Owed { get; } = [];

    public long Frames { get; private set; }

    /// <summary>Plays one session; throws (so CsCheck prints its seed) when any of its inputs got another answer.</summary>
    public async Task RunAsync(FuzzSession session)
    {
        var wrongBefore = Tally.Wrong.Count;
        var triedBefore = Tally.Tried - Tally.Documented;
        await PlayAsync(session);
        if (Tally.Tried - Tally.Documented > triedBefore)
        {
            throw new InvalidOperationException("Inputs got another answer:\n" + string.Join("\n", Tally.Wrong.Skip(wrongBefore)));
        }
    }

    private async Task PlayAsync(FuzzSession session)
    {
        var query = Resolve(session);
        var target = "/ws" + (query.Length > 0 ? "?" + string.Join('&', query.Select(q => q.ToString())) : string.Empty);
        var expected = Expect(query);
        using var connection = await RawConnection.OpenAsync(node, target);
        var actual = connection.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string? clientId = null;
        string? token = null;
        if (connection.Status == 101)
        {
            var welcome = await connection.ReadMessageAsync(Within);
            (actual, clientId, token) = DescribeWelcome(welcome, expected.Answer.Contains("(uuid)", StringComparison.Ordinal));
        }

        Tally.Check(target.Length > 300 ? target[..300] + "…" : target, expected.Answer, actual);
        if (clientId is null || !actual.Equals(expected.Answer, StringComparison.Ordinal))
        {
            return;
        }

        if (!expected.Resumed)
        {
            _known.Add((clientId, token!));
        }

        var badFrames = 0;
        foreach (var frame in session.Frames)
        {
            Frames++;
            var (reply, delivery, close) = Predict(frame, clientId);
            if (reply is { Type: "error", Code: ErrorCodes.BadJson or ErrorCodes.BadFrame or ErrorCodes.UnknownType } && ++badFrames > 10)
            {
                close = CloseCodes.PolicyViolation;
            }

            var pings = await SendAsync(connection, frame);
            var expectedAnswer = Describe(reply is null ? [] : [reply.ToString()], close, pings);
            if (close is not null)
            {
                Tally.Check(frame.ToString(), expectedAnswer, await ReadUntilCloseAsync(connection, pings, close));
                return;
            }

            Tally.Check(frame.ToString(), expectedAnswer, await ReadUntilSyncAsync(connection, pings));
            if (delivery is not null)
            {
                Owed.Add(delivery);
            }
        }

        await connection.SendFrameAsync(RawConnection.OpClose, new byte[] { 0x03, 0xE8 });
        _ = await connection.ReadMessageAsync(Within);
    }

    private (Reply? Reply, Delivery? Delivery, int? Close) Predict(FuzzFrame frame, string sender)
    {
        if (frame.Transport == Transport.Binary)
        {
            return (null, null, CloseCodes.PolicyViolation);
        }

        if (frame.Transport == Transport.ProtocolViolation)
        {
            return (null, null, Failed);
        }

        if (frame.Payload.Length > maxMessageBytes)
        {
            return (null, null, CloseCodes.MessageTooBig);
        }

        if (!FrameOracle.IsUtf8(frame.Payload))
        {
            return (null, null, FailedInvalidUtf8);
        }

        var (reply, delivery) = oracle.Predict(frame.Payload, sender);
        return (reply, delivery, null);
    }

    /// <summary>Sends the frame as its transport says; returns the payloads of the pings put between fragments.</summary>
    private async Task<List<string>> SendAsync(RawConnection connection, FuzzFrame frame)
    {
        var pings = new List<string>();
        var payload = frame.Payload.AsMemory();
        switch (frame.Transport)
        {
            case Transport.Whole:
                await connection.SendFrameAsync(RawConnection.OpText, payload);
                break;
            case Transport.Binary:
                await connection.SendFrameAsync(RawConnection.OpBinary, payload);
                break;
            case Transport.Fragmented:
                var start = 0;
                for (var i = 0; i < frame.Splits.Length; i++)
                {
                    await connection.SendFrameAsync(i == 0 ? RawConnection.OpText : RawConnection.OpContinuation, payload[start..frame.Splits[i]], fin: false);
                    start = frame.Splits[i];
                    // Control frames may come between fragments (RFC 6455 §5.4); the server answers each ping.
                    var ping = $"p{i}";
                    pings.Add(ping);
                    await connection.SendFrameAsync(RawConnection.OpPing, Encoding.UTF8.GetBytes(ping));
                }

                await connection.SendFrameAsync(RawConnection.OpContinuation, payload[start..]);
                break;
            default:
                await SendViolationAsync(connection, frame);
                break;
        }

        return pings;
    }

    /// <summary>Frames that break RFC 6455 framing itself; the WebSocket layer must fail the connection with 1002.</summary>
    private Task<bool> SendViolationAsync(RawConnection connection, FuzzFrame frame) => frame.Violation switch
    {
        0 => connection.SendFrameAsync(RawConnection.OpText, frame.Payload, masked: false),
        1 => connection.SendFrameAsync(RawConnection.OpText, frame.Payload, rsv: 0b100),
        2 => connection.SendFrameAsync(0x3, frame.Payload),
        3 => connection.SendFrameAsync(0xB, frame.Payload),
        4 => connection.SendFrameAsync(RawConnection.OpPing, new byte[126]),
        5 => connection.SendFrameAsync(RawConnection.OpPing, "x"u8.ToArray(), fin: false),
        6 => connection.SendFrameAsync(RawConnection.OpContinuation, frame.Payload),
        // The first start stays within the size limit, so the second start is the input's one violation.
        7 => SendTwoStartsAsync(connection, frame.Payload, Math.Min(frame.Payload.Length / 2, maxMessageBytes)),
        // A 64-bit length with its most significant bit set (§5.2), then a mask key and a byte of payload.
        _ => connection.SendRawAsync(new byte[] { 0x81, 0xFF, (byte)(0x80 | (frame.Payload.Length & 0x7F)), 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, (byte)'x' }),
    };

    private static async Task<bool> SendTwoStartsAsync(RawConnection connection, byte[] payload, int firstLength) =>
        await connection.SendFrameAsync(RawConnection.OpText, payload.AsMemory(0, firstLength), fin: false)
        && await connection.SendFrameAsync(RawConnection.OpText, payload);

    private async Task<string> ReadUntilSyncAsync(RawConnection connection, List<string> pings)
    {
        var sync = $"sync-{++_sync}";
        await connection.SendFrameAsync(RawConnection.OpText, Encoding.UTF8.GetBytes($$"""{"type":"ping","id":"{{sync}}"}"""));
        var replies = new List<string>();
        var pongs = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var message = await connection.ReadMessageAsync(Within, p => pongs.Add(Encoding.UTF8.GetString(p)));
            if (message is not { Opcode: RawConnection.OpText } text)
            {
                return Describe(replies, message is { Opcode: RawConnection.OpClose } c ? RawConnection.CloseCode(c.Payload) : message is null ? -2 : -1, pongs);
            }

            var reply = ParseReply(text.Payload);
            if (reply.Type == "pong" && reply.IdRaw == $"\"{sync}\"")
            {
                return Describe(replies, null, pongs);
            }

            replies.Add(reply.ToString());
        }

        return Describe(replies, -2, pongs);
    }

    private static async Task<string> ReadUntilCloseAsync(RawConnection connection, List<string> pings, int? expected)
    {
        var replies = new List<string>();
        var pongs = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var message = await connection.ReadMessageAsync(Within, p => pongs.Add(Encoding.UTF8.GetString(p)));
            if (message is not { Opcode: RawConnection.OpText } text)
            {
                var code = message switch
                {
                    { Opcode: RawConnection.OpClose } c => RawConnection.CloseCode(c.Payload),
                    { Opcode: RawConnection.Ended } => -1,
                    null => -2,
                    _ => -3,
                };
                if ((expected == Failed && code is 1002 or -1) || (expected == FailedInvalidUtf8 && (code == CloseCodes.InvalidPayload || code == -1)))
                {
                    code = expected.Value;
                }

                if (message is { Opcode: RawConnection.OpClose })
                {
                    await connection.SendFrameAsync(RawConnection.OpClose, message.Value.Payload.AsMemory(0, Math.Min(2, message.Value.Payload.Length)));
                }

                // Pings sent after the frame that failed the connection may go unanswered; only the close counts then.
                return Describe(replies, code, pongs.Count == pings.Count ? pongs : pings);
            }

            replies.Add(ParseReply(text.Payload).ToString());
        }

        return Describe(replies, -2, pongs);
    }

    private static string Describe(IEnumerable<string> replies, int? close, IEnumerable<string> pongs) =>
        $"[{string.Join("; ", replies)}]{(close is null ? string.Empty : $" close {close}")} pongs [{string.Join(",", pongs)}]";

    private static Reply ParseReply(byte[] payload)
    {
        using var json = JsonDocument.Parse(payload);
        var root = json.RootElement;
        string? Text(string name) => root.TryGetProperty(name, out var v) ? v.GetString() : null;
        if (root.GetProperty("type").GetString() == "error" && string.IsNullOrEmpty(Text("message")))
        {
            return new Reply("error without a message");
        }

        return new Reply(
            root.GetProperty("type").GetString()!,
            Text("code"),
            Text("status"),
            root.TryGetProperty("id", out var id) ? id.GetRawText() : null);
    }

    // ---- the upgrade ----

    /// <summary>The query with a known id (and its right or a wrong token) put in when the session asks for one.</summary>
    private QueryParam[] Resolve(FuzzSession session)
    {
        if (session.ReuseKnown >= 3)
        {
            return session.Query;
        }

        // The bystander's id only ever gets a wrong token: taking it over would be a documented 4000, not a bystander left alone.
        var (id, token) = _known[(session.ReuseKnown * 7919 + _known.Count) % _known.Count];
        var presented = session.RightToken && id != bystander ? token : token[..^1] + (token[^1] == 'A' ? 'B' : 'A');
        return
        [
            .. session.Query.Where(q => q.Name is not ("clientId" or "resumeToken")),
            new QueryParam("clientId", Uri.EscapeDataString(id), id, false),
            new QueryParam("resumeToken", Uri.EscapeDataString(presented), presented, false),
        ];
    }

    /// <summary>docs/protocol.md §1 and §5a: 400 for a malformed or repeated parameter, 401 for a known id without its token, else 101 and a welcome.</summary>
    private (string Answer, bool Resumed) Expect(QueryParam[] query)
    {
        string? Single(string name, out bool repeated)
        {
            var all = query.Where(q => q.Name == name).ToArray();
            repeated = all.Length > 1;
            return all.Length == 1 ? all[0].Garbled ? "\u0000garbled" : all[0].Decoded ?? string.Empty : null;
        }

        var clientId = Single("clientId", out var r1);
        var token = Single("resumeToken", out var r2);
        var lastSeq = Single("lastSeq", out var r3);
        if (r1 || r2 || r3 || (clientId is not null && (!Identifiers.IsValid(clientId) || Identifiers.IsReserved(clientId)))
            || (lastSeq is not null && !LastSeqPattern().IsMatch(lastSeq)) || Since(query) is not { } since)
        {
            return ("400", false);
        }

        var known = _known.FirstOrDefault(k => k.Id == clientId);
        if (known.Id is not null)
        {
            // The fuzz sends no broadcast, so '*' is at 0: a since past it says the group's log was lost. The other
            // groups a since may name are groups no fuzz session is in: ignored.
            var recovered = (lastSeq is null || long.Parse(lastSeq, System.Globalization.CultureInfo.InvariantCulture) == 0)
                && !(since.TryGetValue(Groups.Broadcast, out var broadcast) && broadcast > 0);
            return token == known.Token
                ? ($"101 {clientId} resumed=True recovered={recovered}", true)
                : ("401", false);
        }

        return ($"101 {clientId ?? "(uuid)"} resumed=False recovered=True", false);
    }

    /// <summary>The <c>since</c> parameters by group, or null when one is malformed or names a group twice (400).</summary>
    private static Dictionary<string, long>? Since(QueryParam[] query)
    {
        var since = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var param in query.Where(q => q.Name == "since"))
        {
            var value = param.Garbled ? null : param.Decoded ?? string.Empty;
            var colon = value?.LastIndexOf(':') ?? -1;
            if (value is null || colon <= 0 || !LastSeqPattern().IsMatch(value.AsSpan(colon + 1))
                || !Groups.IsNameOrBroadcast(value.AsSpan(0, colon))
                || !since.TryAdd(value[..colon], long.Parse(value.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture)))
            {
                return null;
            }
        }

        return since;
    }

    private static (string Answer, string? ClientId, string? Token) DescribeWelcome((byte Opcode, byte[] Payload)? message, bool generatedId)
    {
        if (message is not { Opcode: RawConnection.OpText } text)
        {
            return ("101 without a welcome", null, null);
        }

        using var json = JsonDocument.Parse(text.Payload);
        var w = json.RootElement;
        var id = w.GetProperty("clientId").GetString()!;
        var shown = generatedId && UuidPattern().IsMatch(id) ? "(uuid)" : id;
        return ($"101 {shown} resumed={w.GetProperty("resumed").GetBoolean()} recovered={w.GetProperty("recovered").GetBoolean()}", id, w.GetProperty("resumeToken").GetString());
    }

    [GeneratedRegex("^[0-9]{1,15}$")]
    private static partial Regex LastSeqPattern();

    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    private static partial Regex UuidPattern();
}
