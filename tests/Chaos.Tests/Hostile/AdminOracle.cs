using System.Globalization;
using System.Text.Json;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Functions.Admin;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>What an admin request must be answered with, and what it owes the clients.</summary>
public sealed record AdminAnswer(string Answer, Delivery? ToBystander = null, bool ClosesVictim = false);

/// <summary>
/// docs/protocol.md §6 (and §5a for names) as a model: the status each request must get, independent of the functions'
/// code. The live names are known by construction: the bystander and the victim are connected on node
/// <see cref="ServerId"/>, the bystander is the group's only member, every other valid name is unknown.
/// </summary>
public sealed class AdminOracle(string bystander, string victim, string group, int maxMessageBytes)
{
    public const string ServerId = "n1";

    /// <summary>
    /// A delivered message wraps the data in one more level; a client reading frames with the 64 levels the contract
    /// allows for frames (and System.Text.Json's default) must be able to read every message, so data may nest 63.
    /// </summary>
    public const int MaxDataDepth = 63;

    // Written out, not MessagesApi.MaxDataDepth: the model states the contract on its own.

    /// <summary>Both live clients are in the connected-clients index a broadcast walks.</summary>
    public const long BroadcastRecipients = 2;

    public AdminAnswer Predict(AdminInput input)
    {
        switch (input.Route)
        {
            case AdminRoute.ListServers:
                return new($"200 servers [{ServerId}]");
            case AdminRoute.GetStats:
                return new("200 stats");
            case AdminRoute.ListClients:
                return new(PredictList(input.Query));
        }

        var name = input.RouteValue;
        if (input.Route != AdminRoute.Broadcast && !Identifiers.IsValid(name))
        {
            return new("400 problem");
        }

        switch (input.Route)
        {
            case AdminRoute.GetClient:
                return name == bystander || name == victim ? new($"200 client {name} connected") : new("404 problem");
            case AdminRoute.CloseClient:
                return name == victim ? new("202", ClosesVictim: true) : new("404 problem");
        }

        // The sends: the body is checked before the target is looked up.
        if (BodyProblem(input.Body ?? []) is { } problem)
        {
            return new(problem);
        }

        var data = System.Text.Encoding.UTF8.GetString(input.Body!);
        return input.Route switch
        {
            AdminRoute.SendToClient when name == bystander => new("202 delivered", new Delivery(MessagesApi.AdminSender, data, null)),
            AdminRoute.SendToClient when name == victim => new("202 delivered"),
            AdminRoute.SendToGroup when name == group => new("202 delivered", new Delivery(MessagesApi.AdminSender, data, group)),
            AdminRoute.Broadcast => new($"202 delivered to {BroadcastRecipients}", new Delivery(MessagesApi.AdminSender, data, Groups.Broadcast)),
            _ => new("404 problem"),
        };
    }

    /// <summary>413 over <c>Ws:MaxMessageBytes</c>; 400 unless the body is one JSON value (RFC 8259: UTF-8, no BOM) within the depth.</summary>
    private string? BodyProblem(byte[] body)
    {
        if (body.Length > maxMessageBytes)
        {
            return "413 problem";
        }

        if (!FrameOracle.IsUtf8(body) || body.AsSpan().StartsWith("\uFEFF"u8))
        {
            return "400 problem";
        }

        try
        {
            using var json = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = MaxDataDepth });
            return null;
        }
        catch (JsonException)
        {
            return "400 problem";
        }
    }

    /// <summary>
    /// <c>server</c> and <c>cursor</c> must be names, <c>limit</c> a whole number from 1 to 1000; a parameter given
    /// twice counts as its values joined by commas (so it is never valid); an empty one,
    /// or a bare name without '=', is not given.
    /// </summary>
    private static string PredictList(string query)
    {
        var values = query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            // A bare name, or a name with an empty value, carries nothing (ASP.NET Core's query parsing drops both).
            .Where(p => p.Length == 2 && p[1].Length > 0)
            .GroupBy(p => Decode(p[0]), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => string.Join(',', g.Select(p => Decode(p[1]))), StringComparer.OrdinalIgnoreCase);
        var server = values.GetValueOrDefault("server", string.Empty);
        var cursor = values.GetValueOrDefault("cursor", string.Empty);
        var limitText = values.GetValueOrDefault("limit", string.Empty);
        var limit = ClientsApi.DefaultLimit;
        if ((server.Length > 0 && !Identifiers.IsValid(server))
            || (cursor.Length > 0 && !Identifiers.IsValid(cursor))
            || (limitText.Length > 0 && !(limitText.All(char.IsAsciiDigit)
                && int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit)
                && limit is >= 1 and <= ClientsApi.MaxLimit)))
        {
            return "400 problem";
        }

        return $"200 page of at most {limit}";
    }

    /// <summary>Form decoding: '+' is a space, %XX escapes are UTF-8; a malformed escape stays as text (never a valid name).</summary>
    private static string Decode(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
}
