using System.Text.Json;

namespace ServerlessWs.App.Tests.Infrastructure;

/// <summary>Client frames as JSON text, and readers for the fields tests check.</summary>
public static class Frames
{
    public static string Send(string to, string dataJson, string? id = null) =>
        $$"""{"type":"send","to":"{{to}}","data":{{dataJson}}{{IdPart(id)}}}""";

    public static string SendToGroup(string group, string dataJson, string? id = null) =>
        $$"""{"type":"send","group":"{{group}}","data":{{dataJson}}{{IdPart(id)}}}""";

    public static string Join(string group, string? id = null) => $$"""{"type":"join","group":"{{group}}"{{IdPart(id)}}}""";

    public static string Leave(string group, string? id = null) => $$"""{"type":"leave","group":"{{group}}"{{IdPart(id)}}}""";

    public static string Type(this JsonElement frame) => frame.GetProperty("type").GetString()!;

    public static long Seq(this JsonElement frame) => frame.GetProperty("seq").GetInt64();

    /// <summary>A group message's position in its group (contract v2).</summary>
    public static long Gseq(this JsonElement frame) => frame.GetProperty("gseq").GetInt64();

    public static string? Group(this JsonElement frame) => frame.TryGetProperty("group", out var group) ? group.GetString() : null;

    public static string Status(this JsonElement ack) => ack.GetProperty("status").GetString()!;

    private static string IdPart(string? id) => id is null ? string.Empty : $",\"id\":\"{id}\"";
}
