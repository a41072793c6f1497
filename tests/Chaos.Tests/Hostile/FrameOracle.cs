using System.Text;
using System.Text.Json;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>What the node must answer to one client text message, by docs/protocol.md §2 and §5a.</summary>
public sealed record Reply(string Type, string? Code = null, string? Status = null, string? IdRaw = null)
{
    public override string ToString() => $"{Type}{(Code ?? Status) switch { null => string.Empty, var s => " " + s }}{(IdRaw is null ? string.Empty : " id=" + IdRaw)}";
}

/// <summary>A message the bystander must receive because of a fuzzed send.</summary>
public sealed record Delivery(string From, string DataRaw, string? Group);

/// <summary>
/// The contract as a model, independent of the server's single-pass parser: it reads the frame with
/// <see cref="JsonDocument"/> and applies the rules in the contract's words. Targets are known by construction:
/// the bystander and its group are live, the ghost ids and empty groups are not.
/// </summary>
public sealed class FrameOracle(string bystander, string bystanderGroup)
{
    public const int MaxDepth = 64;

    private static readonly string[] Known = ["send", "join", "leave", "ping", "invoke", "event"];

    public (Reply? Reply, Delivery? Delivery) Predict(byte[] utf8, string sender)
    {
        JsonDocument document;
        try
        {
            // Documented: not JSON, or nested deeper than 64 levels, is bad-json (an empty message too).
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException)
        {
            return (new Reply("error", ErrorCodes.BadJson), null);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (new Reply("error", ErrorCodes.BadFrame), null);
            }

            // A field given twice counts as its last value, as a streaming reader sees it.
            JsonElement? Field(string name) =>
                root.EnumerateObject().LastOrDefault(p => p.NameEquals(name)) is { Value.ValueKind: not JsonValueKind.Undefined } p ? p.Value : null;

            string? idRaw = null;
            if (Field("id") is { } id)
            {
                var valid = id.ValueKind == JsonValueKind.Number
                    || (id.ValueKind == JsonValueKind.String && id.GetString()!.Length <= Identifiers.MaxLength);
                if (!valid)
                {
                    return (new Reply("error", ErrorCodes.BadFrame), null);
                }

                idRaw = id.GetRawText();
            }

            Reply Error(string code) => new("error", code, IdRaw: idRaw);
            Reply? Ack(string status) => idRaw is null ? null : new Reply("ack", Status: status, IdRaw: idRaw);
            static string? ValidName(JsonElement? value) =>
                value is { ValueKind: JsonValueKind.String } s && Identifiers.IsValid(s.GetString()) ? s.GetString() : null;

            if (Field("type") is not { ValueKind: JsonValueKind.String } typeElement)
            {
                return (Error(ErrorCodes.BadFrame), null);
            }

            var type = typeElement.GetString();
            switch (type)
            {
                case "ping":
                    return (new Reply("pong", IdRaw: idRaw), null);
                case "invoke" or "event":
                    // The fuzzed node has no handler: a well-formed one is not-configured (docs/protocol.md §7).
                    if (ValidName(Field("event")) is null || Field("data") is null || (type == "invoke" && idRaw is null))
                    {
                        return (Error(ErrorCodes.BadFrame), null);
                    }

                    return (Error(ErrorCodes.NotConfigured), null);
                case "join" or "leave":
                    return ValidName(Field("group")) is null ? (Error(ErrorCodes.BadFrame), null) : (Ack(AckStatus.Ok), null);
                case "send":
                    var to = Field("to");
                    var group = Field("group");
                    if (to.HasValue == group.HasValue || ValidName(to ?? group) is not { } target || Field("data") is not { } data)
                    {
                        return (Error(ErrorCodes.BadFrame), null);
                    }

                    // The generators only aim at the live bystander (or its group) and at names nobody holds.
                    var live = to.HasValue ? target == bystander : target == bystanderGroup;
                    return live
                        ? (Ack(AckStatus.Delivered), new Delivery(sender, data.GetRawText(), to.HasValue ? null : target))
                        : (Ack(AckStatus.Unknown), null);
                default:
                    return (Error(ErrorCodes.UnknownType), null);
            }
        }
    }

    public static bool IsKnownType(string type) => Known.Contains(type, StringComparer.Ordinal);

    /// <summary>Whether the bytes are valid UTF-8 (a text frame that is not is closed with 1007).</summary>
    public static bool IsUtf8(byte[] bytes)
    {
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}
