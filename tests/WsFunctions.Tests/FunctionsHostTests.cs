using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Functions.Admin;
using ServerlessWs.Functions.Cleanup;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// The worker as Program.cs builds it (<see cref="WsFunctionsHost"/>), on a real redis-server: its DI graph, its
/// options binding and validation. The host is built, not started (the Functions host cannot run here).
/// </summary>
public sealed class FunctionsHostTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>
    /// Regression (issue 18): per-session policy travels as script arguments from the caller's own options, and the
    /// Functions app was given none of the operator's Ws settings, so admin sends trimmed logs to the default 100
    /// whatever WsApp had. Both apps now get one Ws set; this shows the Functions app's sends obey it.
    /// </summary>
    [Fact]
    public async Task AnOperatorsLogLengthReachesTheAdminSends()
    {
        await using var redis = await RedisServer.StartAsync();
        using var host = Build(redis, ("Ws:LogMaxMessages", "5"));
        var messages = ActivatorUtilities.CreateInstance<MessagesApi>(host.Services);
        var store = host.Services.GetRequiredService<ISessionStore>();
        await store.ClaimAsync("alice", null, 0, "n1", None);

        for (var i = 1; i <= 8; i++)
        {
            await messages.SendToClient(FunctionsHarness.Request("POST", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), "alice");
        }

        var log = await store.ReadLogAsync("alice", 0, None);
        Assert.Equal([4L, 5, 6, 7, 8], log.Entries.Select(e => e.Seq));
    }

    [Fact]
    public async Task CleanupSettingsAreBoundAndABadOneIsRefused()
    {
        await using var redis = await RedisServer.StartAsync();
        using (var host = Build(redis, ("Cleanup:RepairKeysPerRun", "500"), ("Cleanup:Schedule", "*/30 * * * * *")))
        {
            var cleanup = host.Services.GetRequiredService<IOptions<CleanupOptions>>().Value;
            Assert.Equal((500, "*/30 * * * * *"), (cleanup.RepairKeysPerRun, cleanup.Schedule));
        }

        using (var host = Build(redis, ("Cleanup:RepairKeysPerRun", "5")))
        {
            var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<CleanupOptions>>().Value);
            Assert.Contains("Cleanup:RepairKeysPerRun", error.Message, StringComparison.Ordinal);
        }
    }

    private static IHost Build(RedisServer redis, params (string Key, string Value)[] settings) =>
        WsFunctionsHost.Build([], builder => builder.Configuration.AddInMemoryCollection(
            settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)).Append(new("Redis:ConnectionString", redis.ConnectionString))));
}
