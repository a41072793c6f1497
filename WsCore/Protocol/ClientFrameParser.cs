using System.Text.Json;

namespace ServerlessWs.Core.Protocol;

/// <summary>
/// Parses one client text message (docs/protocol.md §2, §5a) in a single pass of <see cref="Utf8JsonReader"/>:
/// no DOM, and <c>data</c> stays a slice of the received bytes.
/// </summary>
public static class ClientFrameParser
{
    // Deeper documents are refused as bad-json before they can cost stack or time.
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    public static ClientFrameParseResult Parse(ReadOnlyMemory<byte> utf8)
    {
        RawFields fields;
        try
        {
            if (!TryReadTopLevel(utf8, out fields))
            {
                return ClientFrameParseResult.Error(ErrorCodes.BadFrame, "A frame must be a JSON object.");
            }
        }
        // InvalidOperationException: a string token with invalid UTF-8 (the WebSocket layer normally refuses those first).
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadJson, "The frame is not valid JSON.");
        }

        // The id is checked first so that every later error can echo it.
        var id = ReadOnlyMemory<byte>.Empty;
        if (fields.Id is { } rawId)
        {
            if (!IsValidId(rawId))
            {
                return ClientFrameParseResult.Error(ErrorCodes.BadFrame, "'id' must be a string of at most 128 characters or a number.");
            }

            id = rawId.Raw;
        }

        if (fields.Type is not { Kind: JsonTokenType.String } type)
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, "A frame needs a string 'type'.", id);
        }

        return type.Text switch
        {
            "send" => ParseSend(fields, id),
            "join" => ParseGroupFrame(ClientFrameType.Join, fields, id),
            "leave" => ParseGroupFrame(ClientFrameType.Leave, fields, id),
            "ping" => ClientFrameParseResult.Ok(new ClientFrame { Type = ClientFrameType.Ping, Id = id }),
            "invoke" => ParseUpstreamFrame(ClientFrameType.Invoke, fields, id),
            "event" => ParseUpstreamFrame(ClientFrameType.Event, fields, id),
            _ => ClientFrameParseResult.Error(ErrorCodes.UnknownType, "Unknown frame type.", id),
        };
    }

    private static ClientFrameParseResult ParseSend(RawFields fields, ReadOnlyMemory<byte> id)
    {
        if ((fields.To is null) == (fields.Group is null))
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, "'send' needs exactly one of 'to' and 'group'.", id);
        }

        var target = fields.To ?? fields.Group!.Value;
        if (!IsValidIdentifier(target))
        {
            var name = fields.To is null ? "group" : "to";
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, $"'{name}' must be 1-128 characters of [A-Za-z0-9._:-].", id);
        }

        if (fields.Data is not { } data)
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, "'send' needs 'data' (it may be null).", id);
        }

        return ClientFrameParseResult.Ok(new ClientFrame
        {
            Type = ClientFrameType.Send,
            To = fields.To is null ? null : target.Text,
            Group = fields.Group is null ? null : target.Text,
            Data = data.Raw,
            Id = id,
        });
    }

    private static ClientFrameParseResult ParseGroupFrame(ClientFrameType type, RawFields fields, ReadOnlyMemory<byte> id)
    {
        if (fields.Group is not { } group || !IsValidIdentifier(group))
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, "'group' must be 1-128 characters of [A-Za-z0-9._:-].", id);
        }

        return ClientFrameParseResult.Ok(new ClientFrame { Type = type, Group = group.Text, Id = id });
    }

    /// <summary><c>invoke</c> and <c>event</c>: an event name (the id charset) and <c>data</c>; an <c>invoke</c> also needs an <c>id</c>, which its result echoes.</summary>
    private static ClientFrameParseResult ParseUpstreamFrame(ClientFrameType type, RawFields fields, ReadOnlyMemory<byte> id)
    {
        var name = type == ClientFrameType.Invoke ? "invoke" : "event";
        if (fields.Event is not { } eventName || !IsValidIdentifier(eventName))
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, $"'{name}' needs 'event': 1-128 characters of [A-Za-z0-9._:-].", id);
        }

        if (fields.Data is not { } data)
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, $"'{name}' needs 'data' (it may be null).", id);
        }

        if (type == ClientFrameType.Invoke && id.IsEmpty)
        {
            return ClientFrameParseResult.Error(ErrorCodes.BadFrame, "'invoke' needs an 'id': its result carries it.");
        }

        return ClientFrameParseResult.Ok(new ClientFrame { Type = type, Event = eventName.Text, Data = data.Raw, Id = id });
    }

    private static bool IsValidIdentifier(RawValue value) =>
        value.Kind == JsonTokenType.String && Identifiers.IsValid(value.Text);

    private static bool IsValidId(RawValue value) => value.Kind switch
    {
        JsonTokenType.Number => true,
        JsonTokenType.String => value.Text.Length <= Identifiers.MaxLength,
        _ => false,
    };

    /// <summary>
    /// Reads the whole document (so trailing garbage is bad-json) and keeps the top-level fields this
    /// protocol knows; unknown fields are skipped. Returns false when the document is not an object.
    /// </summary>
    private static bool TryReadTopLevel(ReadOnlyMemory<byte> utf8, out RawFields fields)
    {
        fields = default;
        var reader = new Utf8JsonReader(utf8.Span, ReaderOptions);
        if (!reader.Read())
        {
            throw new JsonException("Empty document.");
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            EnsureEnd(ref reader);
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = KnownField(ref reader);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            var kind = reader.TokenType;
            string? text = kind == JsonTokenType.String ? reader.GetString() : null;
            reader.Skip();
            var value = new RawValue(kind, text ?? string.Empty, utf8[start..(int)reader.BytesConsumed]);
            switch (field)
            {
                case "type": fields.Type = value; break;
                case "to": fields.To = value; break;
                case "group": fields.Group = value; break;
                case "data": fields.Data = value; break;
                case "id": fields.Id = value; break;
                case "event": fields.Event = value; break;
            }
        }

        EnsureEnd(ref reader);
        return true;
    }

    private static string? KnownField(ref Utf8JsonReader reader)
    {
        foreach (var name in (ReadOnlySpan<string>)["type", "to", "group", "data", "id", "event"])
        {
            if (reader.ValueTextEquals(name))
            {
                return name;
            }
        }

        return null;
    }

    private static void EnsureEnd(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw new JsonException("Trailing data after the frame.");
        }
    }

    private readonly record struct RawValue(JsonTokenType Kind, string Text, ReadOnlyMemory<byte> Raw);

    private struct RawFields
    {
        public RawValue? Type;
        public RawValue? To;
        public RawValue? Group;
        public RawValue? Data;
        public RawValue? Id;
        public RawValue? Event;
    }
}
