using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// Issue 17 item 7: the fast upgrade path, which serves a connection's first <c>GET /ws</c> in front of Kestrel,
/// applies the limits Kestrel and its host filtering apply to every other request (docs/protocol.md §1), and can be
/// turned off (<c>Ws:FastUpgrade</c>), after which upgrades go through the HTTP pipeline and its middleware. Before
/// the fix each of these heads was upgraded with a 101.
/// </summary>
public sealed class FastPathLimitsTests
{
    [Fact]
    public async Task AnUpgradeWithMoreHeadersThanKestrelAllowsIsRefusedWith431()
    {
        await using var node = await WsNode.StartAsync(services: s =>
            s.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.MaxRequestHeaderCount = 10));
        var extra = string.Concat(Enumerable.Range(0, 10).Select(i => $"X-Extra-{i}: {i}\r\n"));

        using var connection = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, "/ws", extra));

        Assert.Equal(431, connection.Status);
        Assert.Equal(0, node.Connections().Count);
    }

    [Fact]
    public async Task AnUpgradeWithARequestLineLongerThanKestrelAllowsIsRefusedWith414()
    {
        await using var node = await WsNode.StartAsync(services: s =>
            s.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.MaxRequestLineSize = 1024));

        using var connection = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, $"/ws?pad={new string('p', 2000)}"));

        Assert.Equal(414, connection.Status);
        Assert.Equal(0, node.Connections().Count);
    }

    [Fact]
    public async Task AnUpgradeForAHostNotInAllowedHostsIsRefusedWith400()
    {
        await using var node = await WsNode.StartAsync(Settings.Of(("AllowedHosts", "app.example")));

        using var connection = await RawConnection.SendHeadAsync(node, RawConnection.UpgradeHead(node, "/ws"));
        using var allowed = await RawConnection.SendHeadAsync(node,
            RawConnection.UpgradeHead(node, "/ws").Replace($"Host: {node.BaseUri.Authority}", "Host: APP.example:443", StringComparison.Ordinal));

        Assert.Equal(400, connection.Status);
        Assert.Equal(101, allowed.Status);
    }

    [Fact]
    public async Task UpgradesPastKestrelsUpgradedConnectionLimitAreRefusedWith503()
    {
        // The fast path's answer; Kestrel's own, with the fast path off, is to refuse the upgrade (400).
        await using var node = await WsNode.StartOnFastPathAsync(services: s =>
            s.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.MaxConcurrentUpgradedConnections = 1));
        await using var first = await TestClient.ConnectAsync(node, "clientId=first");

        Assert.Equal(503, await TestClient.ConnectStatusAsync(node, "clientId=second"));

        await first.CloseAsync();
        await ServerlessWs.Tests.Infrastructure.Eventually.TrueAsync(() => node.Connections().Count == 0);
        await using var third = await TestClient.ConnectAsync(node, "clientId=third");
    }

    [Fact]
    public async Task WithTheFastPathOffTheFirstUpgradeGoesThroughTheMiddleware()
    {
        var seen = 0;
        await using var node = await WsNode.StartAsync(Settings.Of(("Ws:FastUpgrade", false)), services: s =>
            s.AddTransient<IStartupFilter>(_ => new CountingFilter(() => Interlocked.Increment(ref seen))));

        await using var client = await TestClient.ConnectAsync(node, "clientId=seen");

        Assert.Equal(1, seen);
    }

    /// <summary>A middleware at the front of the pipeline that counts the <c>/ws</c> requests it sees.</summary>
    private sealed class CountingFilter(Action onWs) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, then) =>
            {
                if (http.Request.Path == "/ws")
                {
                    onWs();
                }

                return then(http);
            });
            next(app);
        };
    }
}
