using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Browser.Tests.Infrastructure;
using ServerlessWs.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ServerlessWs.Browser.Tests;

/// <summary>The live page at <c>/</c>, with the client from <c>/client.js</c>, in a real Chromium against one embedded node.</summary>
[Collection(OneBrowser.Name)]
public sealed class LivePageTests(BrowserFixture browser)
{
    [Fact]
    public async Task TwoPagesOnOneNodeTalkByIdAndThroughAGroup()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:DrainSeconds", 0)));
        await using var alice = await LivePage.OpenAsync(browser.Browser, node.BaseUri.ToString());
        await using var bob = await LivePage.OpenAsync(browser.Browser, node.BaseUri.ToString());
        var aliceId = await alice.ClientIdAsync();
        var bobId = await bob.ClientIdAsync();
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", aliceId);
        Assert.NotEqual(aliceId, bobId);

        // By id, both ways, through the forms.
        await alice.SendThroughFormAsync("to", bobId, """{"hello":"bob"}""");
        await alice.ExpectAnswerAsync("send: delivered");
        await Expect(bob.Messages).ToHaveTextAsync([$"#1 {aliceId}: {{\"hello\":\"bob\"}}"]);
        await bob.SendThroughFormAsync("to", aliceId, "hi alice");
        await bob.ExpectAnswerAsync("send: delivered");
        await Expect(alice.Messages).ToHaveTextAsync([$"#1 {bobId}: \"hi alice\""]);
        await Expect(bob.Page.Locator("#last-seq")).ToHaveTextAsync("1");

        // Through a group that bob joins: alice's group send reaches him, flagged with the group.
        await bob.GroupThroughFormAsync("Join", "room");
        await bob.ExpectAnswerAsync("join room: ok");
        await Expect(bob.Page.Locator("#groups")).ToHaveTextAsync("room");
        await alice.SendThroughFormAsync("group", "room", "to the room");
        await alice.ExpectAnswerAsync("send: delivered");
        await Expect(bob.Messages.Nth(1)).ToHaveTextAsync($"room #1 {aliceId}: \"to the room\"");
        await Expect(bob.Messages.Nth(1)).ToHaveAttributeAsync("data-group", "room");
        await Expect(bob.Messages.Nth(1)).ToHaveAttributeAsync("data-gseq", "1");

        // Once bob left, the room has no members.
        await bob.GroupThroughFormAsync("Leave", "room");
        await bob.ExpectAnswerAsync("leave room: ok");
        await alice.SendThroughFormAsync("group", "room", "anyone?");
        await alice.ExpectAnswerAsync("send: unknown");
        await Expect(bob.Messages).ToHaveCountAsync(2);

        await alice.ScreenshotAsync("two-pages-alice");
        await bob.ScreenshotAsync("two-pages-bob");
        Assert.Empty(alice.PageErrors());
        Assert.Empty(bob.PageErrors());
    }

    [Fact]
    public async Task ServersOnAnotherHostNameInTheLinkAreIgnoredSoTheResumeTokenStaysHome()
    {
        // Raised in review: ?servers= took any host, and the tab's stored resume token would go along to it.
        await using var home = await WsNode.StartAsync(Settings.Of(("Ws:ServerId", "home"), ("Ws:DrainSeconds", 0)));
        await using var elsewhere = await WsNode.StartAsync(Settings.Of(("Ws:ServerId", "elsewhere"), ("Ws:DrainSeconds", 0)));
        var foreign = $"localhost:{elsewhere.BaseUri.Port}"; // the same machine under another host name

        await using var page = await LivePage.OpenAsync(browser.Browser, $"{home.BaseUri}?servers={foreign}");

        await page.ExpectStateAsync("open");
        await page.ExpectServerAsync("home");
        Assert.Equal(0, elsewhere.Connections().Count);
        Assert.Empty(page.PageErrors());
    }

    [Fact]
    public async Task APageThatCameBackKeepsItsIdAndGetsWhatWasSentWhileItWasAway()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:DrainSeconds", 0)));
        await using var alice = await LivePage.OpenAsync(browser.Browser, node.BaseUri.ToString());
        var aliceId = await alice.ClientIdAsync();
        await using var bob = await TestClient.ConnectAsync(node, "clientId=bob");
        await bob.SendAsync(Frames.Send(aliceId, "\"before\"", id: "1"));
        Assert.Equal("delivered", (await bob.ReceiveOfTypeAsync("ack")).Status());
        await Expect(alice.Messages).ToHaveCountAsync(1);

        // Away: the page is gone (its socket with it), its sessionStorage stays with the tab.
        await alice.Page.GotoAsync("about:blank");
        await Eventually.TrueAsync(() => node.Connections().Count == 1, because: "The page's socket did not close.");
        await bob.SendAsync(Frames.Send(aliceId, "\"while away\"", id: "2"));
        Assert.Equal("queued", (await bob.ReceiveOfTypeAsync("ack")).Status());

        await alice.Page.GotoAsync(node.BaseUri.ToString());
        await alice.ExpectStateAsync("open");
        Assert.Equal(aliceId, await alice.ClientIdAsync());
        await Expect(alice.Page.Locator("#replayed")).ToHaveAttributeAsync("data-count", "1");
        await Expect(alice.Messages).ToHaveTextAsync([$"#2 bob: \"while away\""]);
        await Expect(alice.Messages.First).ToHaveAttributeAsync("data-replayed", "true");
        Assert.Empty(alice.PageErrors());
    }

    [Fact]
    public async Task APageWhoseIdIsTakenOverStopsAndDoesNotTakeItBack()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:DrainSeconds", 0)));
        await using var alice = await LivePage.OpenAsync(browser.Browser, node.BaseUri.ToString());
        var aliceId = await alice.ClientIdAsync();
        var token = await alice.Page.EvaluateAsync<string>("() => JSON.parse(sessionStorage.getItem('serverlessws')).resumeToken");

        await using var elsewhere = await TestClient.ConnectAsync(node, $"clientId={aliceId}&resumeToken={Uri.EscapeDataString(token)}");

        // The client decides on the close event itself: "stopped" rather than "reconnecting" means no retry is scheduled.
        await alice.ExpectStateAsync("stopped");
        await alice.ExpectAnswerAsync("stopped: taken-over (4000); reload to connect again");
        await elsewhere.AssertAliveAsync();
        await Eventually.TrueAsync(() => node.Connections().Count == 1, because: "The taken-over socket stayed in the node's map.");
        Assert.Empty(alice.PageErrors());
    }

    [Fact]
    public async Task TheNodeServesThePageAtTheRootAndTheClientAtClientJsBesideItsOtherEndpoints()
    {
        await using var node = await WsNode.StartAsync();
        using var http = new HttpClient { BaseAddress = node.BaseUri, Timeout = TimeSpan.FromSeconds(10) };

        using var client = await http.GetAsync(new Uri("/client.js", UriKind.Relative));
        using var page = await http.GetAsync(new Uri("/", UriKind.Relative));
        using var healthz = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var readyz = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        using var ws = await http.GetAsync(new Uri("/ws", UriKind.Relative));

        client.EnsureSuccessStatusCode();
        Assert.Equal("text/javascript", client.Content.Headers.ContentType?.MediaType);
        Assert.Contains("export class ServerlessWsClient", await client.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        page.EnsureSuccessStatusCode();
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("import { ServerlessWsClient } from \"./client.js\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal((200, 200, 400), ((int)healthz.StatusCode, (int)readyz.StatusCode, (int)ws.StatusCode));
    }
}
