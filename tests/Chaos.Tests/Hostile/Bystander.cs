using System.Text.Json;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.Chaos.Tests.Hostile;

/// <summary>The client that hostile input must not touch: what it received is checked against what it was owed.</summary>
internal static class Bystander
{
    /// <summary>
    /// Every owed message, once, in order in its stream (direct: seq 1, 2, 3…; each group: gseq 1, 2, 3…), data equal
    /// as JSON, and nothing else.
    /// </summary>
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

        // Direct messages are in the bystander's log before their ack, so before the pong; a group or broadcast
        // message is acked once in its group's log and reaches the socket through its node's doorbell, which may come
        // after the pong. What is still owed is waited for, bounded by the client's receive timeout.
        try
        {
            while (messages.Count < owed.Count)
            {
                messages.Add(await bystander.ReceiveAsync());
            }
        }
        catch (OperationCanceledException)
        {
            // Nothing more came: what is missing is counted as lost below.
        }

        // Contract v2: direct messages are one stream (seq from 1), each group its own (gseq); the broadcast group
        // counts from where the bystander's welcome put it. Each stream must hold exactly what it was owed, in order.
        var duplicated = 0;
        var outOfOrder = 0;
        var matched = 0;
        foreach (var stream in messages.Select(StreamOf).Concat(owed.Select(o => o.Group)).Distinct())
        {
            var got = messages.Where(m => StreamOf(m) == stream).ToList();
            var due = owed.Where(o => o.Group == stream).ToList();
            var positions = got.Select(m => stream is null ? m.Seq() : m.Gseq()).ToList();
            duplicated += positions.Count - positions.Distinct().Count();
            outOfOrder += positions.Zip(positions.Skip(1)).Count(p => p.Second <= p.First);
            var first = stream == Groups.Broadcast ? bystander.Welcome.GetProperty("groups").GetProperty(Groups.Broadcast).GetProperty("gseq").GetInt64() + 1 : 1;
            for (var i = 0; i < Math.Min(due.Count, got.Count); i++)
            {
                using var expected = JsonDocument.Parse(due[i].DataRaw, new JsonDocumentOptions { MaxDepth = 128 });
                // As raw text, not DeepEquals: a lone surrogate escape ("\ud800") is valid JSON that GetString refuses.
                if (positions[i] == first + i && got[i].GetProperty("from").GetString() == due[i].From
                    && got[i].GetProperty("data").GetRawText() == expected.RootElement.GetRawText())
                {
                    matched++;
                }
            }
        }

        return (messages.Count, owed.Count - matched + Math.Max(0, messages.Count - owed.Count), duplicated, outOfOrder);
    }

    private static string? StreamOf(JsonElement message) => message.Group();
}
