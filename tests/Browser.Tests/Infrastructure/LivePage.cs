using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ServerlessWs.Browser.Tests.Infrastructure;

/// <summary>
/// The live page (WsApp's <c>/</c>) in its own browser context, so its <c>sessionStorage</c>, and with it its
/// session, is its own, as in a separate tab. Reads what a user sees; acts through the page's forms, or through
/// <c>window.app.client</c> where a test needs the client's own answer.
/// </summary>
public sealed class LivePage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly List<string> _pageErrors = [];

    private LivePage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.PageError += (_, error) =>
        {
            lock (_pageErrors)
            {
                _pageErrors.Add(error);
            }
        };
    }

    public IPage Page { get; }

    /// <summary>Opens <paramref name="url"/> and waits until its client is connected.</summary>
    public static async Task<LivePage> OpenAsync(IBrowser browser, string url)
    {
        var context = await browser.NewContextAsync();
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        var live = new LivePage(context, page);
        var response = await page.GotoAsync(url);
        Assert.True(response is { Ok: true }, $"GET {url} answered {response?.Status}.");
        await live.ExpectStateAsync("open");
        return live;
    }

    public ILocator Messages => Page.Locator("#messages li");

    public async Task<string> ClientIdAsync() => await Page.Locator("#client-id").InnerTextAsync();

    public Task ExpectStateAsync(string state) => Expect(Page.Locator("#state")).ToHaveTextAsync(state);

    public Task ExpectServerAsync(string serverId) => Expect(Page.Locator("#server-id")).ToHaveTextAsync(serverId);

    public Task ExpectAnswerAsync(string text) => Expect(Page.Locator("#answer")).ToHaveTextAsync(text);

    public async Task<string> StateAsync() => await Page.Locator("#state").InnerTextAsync();

    /// <summary>Sends through the page's form, as a user would; <paramref name="kind"/> is <c>to</c> or <c>group</c>.</summary>
    public async Task SendThroughFormAsync(string kind, string target, string data)
    {
        var form = Page.Locator("#send-form");
        await form.Locator("select[name=kind]").SelectOptionAsync(kind);
        await form.Locator("input[name=target]").FillAsync(target);
        await form.Locator("input[name=data]").FillAsync(data);
        await form.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
    }

    /// <summary>Joins or leaves <paramref name="group"/> through the page's form (<paramref name="action"/>: Join or Leave).</summary>
    public async Task GroupThroughFormAsync(string action, string group)
    {
        var form = Page.Locator("#group-form");
        await form.Locator("input[name=group]").FillAsync(group);
        await form.GetByRole(AriaRole.Button, new() { Name = action }).ClickAsync();
    }

    /// <summary>Sends with the page's client and returns the ack's status (the promise's value).</summary>
    public Task<string> SendWithClientAsync(string to, string data) =>
        Page.EvaluateAsync<string>("([to, data]) => window.app.client.send(to, data)", new[] { to, data });

    /// <summary>The message list as shown: seq (gseq for a group message), sender, replayed flag, text and group of each item, top to bottom.</summary>
    public async Task<IReadOnlyList<ShownMessage>> ShownMessagesAsync()
    {
        var items = await Messages.EvaluateAllAsync<JsonElement>(
            "items => items.map(li => ({ seq: Number(li.dataset.seq ?? li.dataset.gseq), group: li.dataset.group ?? null, from: li.dataset.from, replayed: li.dataset.replayed === 'true', text: li.textContent }))");
        return [.. items.EnumerateArray().Select(m => new ShownMessage(
            m.GetProperty("seq").GetInt64(), m.GetProperty("from").GetString()!, m.GetProperty("replayed").GetBoolean(), m.GetProperty("text").GetString()!, m.GetProperty("group").GetString()))];
    }

    /// <summary>The client's own record of what it surfaced (<c>window.app.messages</c>): seq and data of each.</summary>
    public async Task<IReadOnlyList<(long Seq, string Data)>> ClientRecordsAsync()
    {
        var records = await Page.EvaluateAsync<JsonElement>("() => window.app.messages.map(m => ({ seq: m.seq, data: JSON.stringify(m.data) }))");
        return [.. records.EnumerateArray().Select(m => (m.GetProperty("seq").GetInt64(), m.GetProperty("data").GetString()!))];
    }

    /// <summary>Saves a full-page screenshot under <c>screenshots/</c> in the test output folder; returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "screenshots", name + ".png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Assert.True(new FileInfo(path).Length > 0, $"The screenshot {path} is empty.");
        return path;
    }

    /// <summary>Script errors the page raised; a test ends by asserting there were none.</summary>
    public IReadOnlyList<string> PageErrors()
    {
        lock (_pageErrors)
        {
            return [.. _pageErrors];
        }
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}

/// <summary>One item of the page's message list; <paramref name="Seq"/> is the gseq of a group message.</summary>
public sealed record ShownMessage(long Seq, string From, bool Replayed, string Text, string? Group = null);
