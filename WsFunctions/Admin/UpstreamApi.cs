using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.Functions.Admin;

/// <summary>
/// Admin routes on the upstream dead letters (docs/protocol.md §7): list them page by page, and replay one, which
/// moves it back to its client's partition with the same ce-id and its attempts counted afresh.
/// </summary>
public sealed partial class UpstreamApi(UpstreamEventLog log)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    [Function("ListDeadLetters")]
    public async Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "upstream/dead-letters")] HttpRequest request)
    {
        var after = request.Query["after"].ToString();
        var limitText = request.Query["limit"].ToString();
        if (after.Length > 0 && !StreamId().IsMatch(after))
        {
            return Problems.BadRequest("after must be the nextAfter of a previous page (a dead letter's id).");
        }

        var limit = DefaultLimit;
        if (limitText.Length > 0 && (!int.TryParse(limitText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            return Problems.BadRequest($"limit must be a whole number from 1 to {MaxLimit}.");
        }

        var page = await log.ListDeadLettersAsync(after.Length > 0 ? after : null, limit);
        var items = page.Select(View).ToArray();
        return new OkObjectResult(new DeadLetterPage(items, items.Length == limit ? items[^1].Id : null));
    }

    [Function("ReplayDeadLetter")]
    public async Task<IActionResult> Replay(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "upstream/dead-letters/{id}/replay")] HttpRequest request,
        string id)
    {
        if (!StreamId().IsMatch(id))
        {
            return Problems.BadRequest("id must be a dead letter's id, as the list gives it.");
        }

        return await log.ReplayAsync(id) is { } replayed
            ? new AcceptedResult(location: null, new ReplayResult(id, replayed.Record?.CeId))
            : Problems.NotFound($"No dead letter '{id}'.");
    }

    private static DeadLetterView View(UpstreamDeadLetter dead) =>
        dead.Record is { } r
            ? new DeadLetterView(
                dead.Id, dead.Reason, dead.Attempts, r.CeId, r.Kind == UpstreamKind.User ? "user" : "lifecycle", r.Event, r.ClientId, r.UserId, r.ServerId, r.Time, Json(r.Data))
            : new DeadLetterView(dead.Id, dead.Reason, dead.Attempts, null, null, null, null, null, null, null, null);

    /// <summary>The stored data as JSON (it was checked when the event was accepted); null if it no longer parses.</summary>
    private static JsonElement? Json(byte[] data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [GeneratedRegex("^[0-9]{1,19}-[0-9]{1,19}$")]
    private static partial Regex StreamId();
}
