using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Browser.Tests.Infrastructure;

namespace ServerlessWs.Browser.Tests;

/// <summary>The browser client's <c>invoke</c> and <c>emit</c> (docs/protocol.md §7) in a real Chromium, against a real handler on loopback.</summary>
[Collection(OneBrowser.Name)]
public sealed class UpstreamPageTests(BrowserFixture browser, ServerlessWs.Tests.Infrastructure.RedisFixture redis) : IClassFixture<ServerlessWs.Tests.Infrastructure.RedisFixture>
{
    [Fact]
    public async Task InvokeResolvesWithTheHandlersAnswerAndRejectsWithTheErrorCode()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        await using var handler = builder.Build();
        handler.MapPost("/handler", (HttpRequest request) => request.Headers["ce-type"].ToString() == "serverlessws.user.total"
            ? Results.Text($$"""{"client":"{{request.Headers["ce-clientid"]}}","total":42}""", "application/json")
            : Results.StatusCode(500));
        await handler.StartAsync();
        var url = handler.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single() + "/handler";
        // On Redis: an emitted event is stored (durably) and acked accepted.
        await using var node = await WsNode.StartOnRedisAsync(
            redis.Server, $"upstream-{Guid.NewGuid():N}", ("Upstream:Url", url), ("Upstream:SigningKeys:0", "a-signing-key-of-at-least-32-characters"), ("Ws:DrainSeconds", 0));
        await using var page = await LivePage.OpenAsync(browser.Browser, node.BaseUri.ToString());
        var clientId = await page.ClientIdAsync();

        var answer = await page.Page.EvaluateAsync<string>("async () => JSON.stringify(await window.app.client.invoke('total', { items: [1, 2] }))");
        var failed = await page.Page.EvaluateAsync<string>("() => window.app.client.invoke('other', null).then(() => 'resolved', e => e.code)");
        var emitted = await page.Page.EvaluateAsync<string>("() => window.app.client.emit('saved', 1).then(() => 'resolved', e => e.code)");
        var refused = await page.Page.EvaluateAsync<string>("() => window.app.client.emit('bad name!', 1).then(() => 'resolved', e => e.code)");

        Assert.Equal($$"""{"client":"{{clientId}}","total":42}""", answer);
        Assert.Equal("upstream-failed", failed);
        Assert.Equal("resolved", emitted);
        Assert.Equal("bad-frame", refused);
        // And from the page's own form, as a person would.
        await page.Page.FillAsync("#upstream-form [name=event]", "total");
        await page.Page.FillAsync("#upstream-form [name=data]", """{"items":[3]}""");
        await page.Page.ClickAsync("#upstream-form [name=invoke]");
        await page.ExpectAnswerAsync($$"""invoke total: {"client":"{{clientId}}","total":42}""");
        await page.Page.FillAsync("#upstream-form [name=event]", "saved");
        await page.Page.ClickAsync("#upstream-form [name=emit]");
        await page.ExpectAnswerAsync("emit saved: accepted");
        await page.ExpectStateAsync("open");
        Assert.Empty(page.PageErrors());
    }
}
