using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Browser.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ServerlessWs.Browser.Tests;

/// <summary>
/// Two WsApp nodes on one real redis-server: a page whose node stops resumes on the other and shows what was sent
/// to it meanwhile, in order, once.
/// </summary>
[Collection(OneBrowser.Name)]
public sealed class NodeStopTests(BrowserFixture browser, RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly string[] Appended = ["delivered", "queued"];

    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task APageWhoseNodeStopsResumesOnTheOtherAndShowsTheMessagesSentMeanwhileInOrderOnce()
    {
        await using var node1 = await WsNode.StartOnRedisAsync(redis.Server, $"node-1-{_run}", ("Ws:DrainSeconds", 0));
        await using var node2 = await WsNode.StartOnRedisAsync(redis.Server, $"node-2-{_run}", ("Ws:DrainSeconds", 0));
        // Alice's second server is node 2 behind a gate that holds her reconnect until the test has sent.
        await using var gate = new LoopbackGate(node2.BaseUri);
        await using var alice = await LivePage.OpenAsync(
            browser.Browser, $"{node1.BaseUri}?servers={node1.BaseUri.Authority},{gate.Authority}");
        await using var bob = await LivePage.OpenAsync(browser.Browser, $"{node2.BaseUri}?servers={node2.BaseUri.Authority}");
        await alice.ExpectServerAsync(node1.ServerId);
        await bob.ExpectServerAsync(node2.ServerId);
        var aliceId = await alice.ClientIdAsync();
        var bobId = await bob.ClientIdAsync();

        // Live, while both nodes run.
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal("delivered", await bob.SendWithClientAsync(aliceId, $"m{i}"));
        }

        await Expect(alice.Messages).ToHaveCountAsync(3);

        // Node 1 shuts down: alice gets 1001 and tries her next server, where the gate holds her.
        await node1.StopAsync();
        await Eventually.TrueAsync(() => gate.Accepted > 0, because: "Alice never tried her second server after node 1 stopped.");
        Assert.NotEqual("open", await alice.StateAsync());

        // Meanwhile: these can only reach her through the log and the resume.
        for (var i = 4; i <= 8; i++)
        {
            Assert.Contains(await bob.SendWithClientAsync(aliceId, $"m{i}"), Appended);
        }

        gate.Open();
        await alice.ExpectServerAsync(node2.ServerId);
        await alice.ExpectStateAsync("open");
        await Expect(alice.Page.Locator("#replayed")).ToHaveAttributeAsync("data-count", "5");

        // Live again, now on node 2.
        for (var i = 9; i <= 10; i++)
        {
            Assert.Equal("delivered", await bob.SendWithClientAsync(aliceId, $"m{i}"));
        }

        await Expect(alice.Messages).ToHaveCountAsync(10);
        var shown = await alice.ShownMessagesAsync();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), shown.Select(m => m.Seq));
        Assert.Equal(
            Enumerable.Range(1, 10).Select(i => $"#{i} {bobId}: \"m{i}\""),
            shown.Select(m => m.Text));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i is >= 4 and <= 8), shown.Select(m => m.Replayed));
        Assert.Equal(
            Enumerable.Range(1, 10).Select(i => ((long)i, $"\"m{i}\"")),
            await alice.ClientRecordsAsync());
        await Expect(alice.Page.Locator("#last-seq")).ToHaveTextAsync("10");

        await alice.ScreenshotAsync("resumed-on-the-other-node");
        Assert.Empty(alice.PageErrors());
        Assert.Empty(bob.PageErrors());
    }
}
