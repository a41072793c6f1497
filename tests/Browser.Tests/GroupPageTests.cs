using System.Globalization;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Browser.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ServerlessWs.Browser.Tests;

/// <summary>
/// Two pages in one group on two WsApp nodes on a real redis-server (docs/protocol.md §5b): a page that goes away
/// and comes back, or reloads while the group is busy, shows each group message once, in gseq order, the missed
/// ones flagged replayed.
/// </summary>
[Collection(OneBrowser.Name)]
public sealed class GroupPageTests(BrowserFixture browser, RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task APageThatComesBackToAGroupShowsWhatItMissedOnceInOrderFlaggedReplayed()
    {
        await using var node1 = await WsNode.StartOnRedisAsync(redis.Server, $"node-1-{_run}", ("Ws:DrainSeconds", 0));
        await using var node2 = await WsNode.StartOnRedisAsync(redis.Server, $"node-2-{_run}", ("Ws:DrainSeconds", 0));
        var room = $"room-{_run}";
        await using var alice = await LivePage.OpenAsync(browser.Browser, $"{node1.BaseUri}?servers={node1.BaseUri.Authority}");
        await using var bob = await LivePage.OpenAsync(browser.Browser, $"{node2.BaseUri}?servers={node2.BaseUri.Authority}");
        foreach (var page in new[] { alice, bob })
        {
            await page.GroupThroughFormAsync("Join", room);
            await page.ExpectAnswerAsync($"join {room}: ok");
        }

        await using var sender = await TestClient.ConnectAsync(node1, $"clientId=sender-{_run}");
        await SendAsync(sender, room, 1, 3);
        await Expect(bob.Messages).ToHaveCountAsync(3);

        // Away: bob's page is gone (its socket with it); its sessionStorage keeps the group's gseq.
        await bob.Page.GotoAsync("about:blank");
        await Eventually.TrueAsync(() => node2.Connections().Count == 0, because: "Bob's page's socket did not close.");
        await SendAsync(sender, room, 4, 8);
        await bob.Page.GotoAsync($"{node2.BaseUri}?servers={node2.BaseUri.Authority}");
        await bob.ExpectStateAsync("open");
        await Expect(bob.Page.Locator("#replayed")).ToHaveAttributeAsync("data-count", "5");
        await SendAsync(sender, room, 9, 9);

        await Expect(bob.Messages).ToHaveCountAsync(6);
        var shown = await bob.ShownMessagesAsync();
        Assert.Equal(Enumerable.Range(4, 6).Select(i => (long)i), shown.Select(m => m.Seq));
        Assert.Equal(Enumerable.Range(4, 6).Select(i => i <= 8), shown.Select(m => m.Replayed));
        Assert.All(shown, m => Assert.Equal(room, m.Group));
        Assert.Equal(
            Enumerable.Range(4, 6).Select(i => $"{room} #{i} sender-{_run}: {i}"),
            shown.Select(m => m.Text));
        await Expect(alice.Messages).ToHaveCountAsync(9);
        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), (await alice.ShownMessagesAsync()).Select(m => m.Seq));

        // A reload while the group is busy: the new page takes up after the gseq the old one stored, with no hole
        // and no repeat, and what came while it was away is flagged replayed.
        var sending = SendAsync(sender, room, 10, 40);
        await bob.Page.ReloadAsync();
        await sending;
        await bob.ExpectStateAsync("open");
        IReadOnlyList<ShownMessage> afterReload = [];
        await Eventually.TrueAsync(
            async () => (afterReload = await bob.ShownMessagesAsync()).Count > 0 && afterReload[^1].Seq == 40,
            because: "Bob's reloaded page never showed gseq 40.");
        var first = afterReload[0].Seq;
        Assert.Equal(Enumerable.Range((int)first, 41 - (int)first).Select(i => (long)i), afterReload.Select(m => m.Seq));
        Assert.Equal(int.Parse(await bob.Page.Locator("#replayed").GetAttributeAsync("data-count") ?? "0", CultureInfo.InvariantCulture), afterReload.Count(m => m.Replayed));

        await bob.ScreenshotAsync("group-page-reloaded");
        Assert.Empty(alice.PageErrors());
        Assert.Empty(bob.PageErrors());
    }

    private static async Task SendAsync(TestClient sender, string group, int from, int to)
    {
        for (var i = from; i <= to; i++)
        {
            await sender.SendAsync(Frames.SendToGroup(group, i.ToString(CultureInfo.InvariantCulture), id: "g"));
            Assert.Equal("delivered", (await sender.ReceiveOfTypeAsync("ack")).Status());
        }
    }
}
