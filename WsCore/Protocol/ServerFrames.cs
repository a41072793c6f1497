using System.Buffers;
using System.Text.Json;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Protocol;

/// <summary>
/// Writes the server-to-client frames of docs/protocol.md §2 as UTF-8 JSON. Client-supplied <c>data</c> and <c>id</c>
/// are written raw: they were validated as JSON on the way in and are echoed byte for byte.
/// </summary>
public static class ServerFrames
{
    public static void WriteWelcome(IBufferWriter<byte> output, in Welcome welcome)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "welcome"u8);
        json.WriteString("clientId"u8, welcome.ClientId);
        json.WriteString("resumeToken"u8, welcome.ResumeToken);
        json.WriteString("serverId"u8, welcome.ServerId);
        json.WriteNumber("heartbeatSeconds"u8, welcome.HeartbeatSeconds);
        json.WriteBoolean("resumed"u8, welcome.Resumed);
        json.WriteNumber("replayed"u8, welcome.Replayed);
        json.WriteBoolean("recovered"u8, welcome.Recovered);
        json.WriteStartObject("groups"u8);
        foreach (var group in welcome.Groups)
        {
            json.WriteStartObject(group.Group);
            json.WriteNumber("gseq"u8, group.Gseq);
            json.WriteBoolean("recovered"u8, group.Recovered);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>
    /// A direct message carries the recipient's <c>seq</c>; a group message its group and <c>gseq</c> (§5b). What the
    /// admin API sent is marked <c>admin: true</c>, which no client can cause (the id <c>admin</c> is reserved).
    /// </summary>
    public static void WriteMessage(IBufferWriter<byte> output, LogEntry message)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "message"u8);
        json.WriteString("from"u8, message.From);
        if (message.From == Identifiers.AdminSender)
        {
            json.WriteBoolean("admin"u8, true);
        }

        if (message.Group is null)
        {
            json.WriteNumber("seq"u8, message.Seq);
        }
        else
        {
            json.WriteString("group"u8, message.Group);
            json.WriteNumber("gseq"u8, message.Seq);
        }

        json.WritePropertyName("data"u8);
        json.WriteRawValue(message.Data.Span, skipInputValidation: true);
        json.WriteEndObject();
    }

    /// <summary>The answer to a <c>join</c> with an <c>id</c>: <c>ok</c>, with the group and its gseq at the join (§5b).</summary>
    public static void WriteJoinAck(IBufferWriter<byte> output, ReadOnlySpan<byte> id, string group, long gseq)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "ack"u8);
        WriteId(json, id);
        json.WriteString("status"u8, AckStatus.Ok);
        json.WriteString("group"u8, group);
        json.WriteNumber("gseq"u8, gseq);
        json.WriteEndObject();
    }

    public static void WriteAck(IBufferWriter<byte> output, ReadOnlySpan<byte> id, string status)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "ack"u8);
        WriteId(json, id);
        json.WriteString("status"u8, status);
        json.WriteEndObject();
    }

    /// <summary>The answer to an <c>invoke</c>: the handler's JSON body as <c>data</c> (docs/protocol.md §7).</summary>
    public static void WriteResult(IBufferWriter<byte> output, ReadOnlySpan<byte> id, ReadOnlySpan<byte> data)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "result"u8);
        WriteId(json, id);
        json.WritePropertyName("data"u8);
        json.WriteRawValue(data, skipInputValidation: true);
        json.WriteEndObject();
    }

    public static void WritePong(IBufferWriter<byte> output, ReadOnlySpan<byte> id)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "pong"u8);
        if (!id.IsEmpty)
        {
            WriteId(json, id);
        }

        json.WriteEndObject();
    }

    public static void WriteError(IBufferWriter<byte> output, string code, string message, ReadOnlySpan<byte> id)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "error"u8);
        json.WriteString("code"u8, code);
        json.WriteString("message"u8, message);
        if (!id.IsEmpty)
        {
            WriteId(json, id);
        }

        json.WriteEndObject();
    }

    private static void WriteId(Utf8JsonWriter json, ReadOnlySpan<byte> id)
    {
        json.WritePropertyName("id"u8);
        json.WriteRawValue(id, skipInputValidation: true);
    }
}

/// <summary>The fields of a <c>welcome</c> frame.</summary>
public readonly record struct Welcome(
    string ClientId,
    string ResumeToken,
    string ServerId,
    int HeartbeatSeconds,
    bool Resumed,
    int Replayed,
    bool Recovered,
    IReadOnlyList<WelcomeGroup> Groups);

/// <summary>One entry of a welcome's <c>groups</c>: delivery of the group starts after <paramref name="Gseq"/>; <paramref name="Recovered"/> is false when messages the client asked for are no longer in the group's log.</summary>
public readonly record struct WelcomeGroup(string Group, long Gseq, bool Recovered);
