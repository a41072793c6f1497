using System.Text.Json;
using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>The client that hostile input must not touch: what it received is checked against what it was owed.</summary>
internal static class Bystander
{
    /// <summary>Every owed message, once, in order, with seq 1, 2, 3…, data equal as JSON, and nothing else.</summary>
    public static async Task<(long Received, long Lost, long Duplicated, long OutOfOrder)> CheckAsync(TestClient bystander, IReadOnlyList<Delivery> owed)
    {
        // A ping after everything: its pong comes after every message already in the bystander's log.
        await bystander.SendAsync("""{"type":"ping","id":"end"}""");
        var messages = new List<JsonElement>();
        while (messages.Count <= owed.Count + 100)
        {
            var frame = await bystander.ReceiveAsync();
            if (frame.Type() == "pong")
            {
                break;
            }

            messages.Add(frame);
        }

        var seqs = messages.Select(m => m.Seq()).ToList();
        var duplicated = seqs.Count - seqs.Distinct().Count();
        var outOfOrder = seqs.Zip(seqs.Skip(1)).Count(p => p.Second <= p.First);
        var matched = 0;
        for (var i = 0; i < Math.Min(owed.Count, messages.Count); i++)
        {
            var m = messages[i];
            using var expected = JsonDocument.Parse(owed[i].DataRaw, new JsonDocumentOptions { MaxDepth = 128 });
            var group = m.TryGetProperty("group", out var g) ? g.GetString() : null;
            if (m.Seq() == i + 1 && m.GetProperty("from").GetString() == owed[i].From
                // As raw text, not DeepEquals: a lone surrogate escape ("\ud800") is valid JSON that GetString refuses.
                && m.GetProperty("data").GetRawText() == expected.RootElement.GetRawText() && group == owed[i].Group)
            {
                matched++;
            }
        }

        return (messages.Count, owed.Count - matched + Math.Max(0, messages.Count - owed.Count), duplicated, outOfOrder);
    }
}
