using Microsoft.Extensions.DependencyInjection;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Tests;

/// <summary>
/// Regression (issue 18): "the store is unavailable" was decided by catching every exception, so a bug showed up as
/// a Redis outage to clients (503) and on the dashboard. Only <see cref="StoreUnavailableException"/>, which only the
/// Redis implementations throw, reads as an outage now.
/// </summary>
public sealed class StoreFailureTests
{
    [Fact]
    public async Task AStoreOutageAtConnectAnswers503()
    {
        await using var node = await StartAsync(new StoreUnavailableException("test outage"));

        Assert.Equal(503, await TestClient.ConnectStatusAsync(node, "clientId=alice"));
    }

    [Fact]
    public async Task ABugAtConnectIsNotReportedAsAStoreOutage()
    {
        await using var node = await StartAsync(new InvalidOperationException("a bug"));

        Assert.NotEqual(503, await TestClient.ConnectStatusAsync(node, "clientId=alice"));
        Assert.NotEqual(101, await TestClient.ConnectStatusAsync(node, "clientId=bob"));
    }

    /// <summary>An embedded node whose store's claims fail with <paramref name="failure"/>.</summary>
    private static Task<WsNode> StartAsync(Exception failure) =>
        WsNode.StartAsync(services: services => services.AddSingleton<ISessionStore>(sp =>
            new FailingClaims(sp.GetRequiredService<InMemorySessionStore>(), failure)));

    private sealed class FailingClaims(InMemorySessionStore inner, Exception failure) : ISessionStore
    {
        public ValueTask<ClaimResult> ClaimAsync(string clientId, string? resumeToken, long replayAfterSeq, string serverId, CancellationToken cancellationToken) =>
            ValueTask.FromException<ClaimResult>(failure);

        public ValueTask<bool> ReleaseAsync(string clientId, long epoch, CancellationToken cancellationToken) => inner.ReleaseAsync(clientId, epoch, cancellationToken);

        public ValueTask<AppendResult> AppendAsync(string clientId, OutboundMessage message, CancellationToken cancellationToken) => inner.AppendAsync(clientId, message, cancellationToken);

        public ValueTask<LogRead> ReadLogAsync(string clientId, long afterSeq, CancellationToken cancellationToken) => inner.ReadLogAsync(clientId, afterSeq, cancellationToken);

        public ValueTask<GroupJoin> JoinAsync(string clientId, string group, CancellationToken cancellationToken) => inner.JoinAsync(clientId, group, cancellationToken);

        public ValueTask LeaveAsync(string clientId, string group, CancellationToken cancellationToken) => inner.LeaveAsync(clientId, group, cancellationToken);

        public ValueTask<GroupAppendResult> AppendToGroupAsync(string group, OutboundMessage message, CancellationToken cancellationToken) => inner.AppendToGroupAsync(group, message, cancellationToken);

        public ValueTask<GroupLogRead> ReadGroupLogAsync(string group, long afterGseq, CancellationToken cancellationToken) => inner.ReadGroupLogAsync(group, afterGseq, cancellationToken);

        public ValueTask<ReassertOutcome> ReassertAsync(string clientId, string serverId, long epoch, byte[] tokenHash, CancellationToken cancellationToken) =>
            inner.ReassertAsync(clientId, serverId, epoch, tokenHash, cancellationToken);

        public ValueTask<SessionInfo?> GetSessionAsync(string clientId, CancellationToken cancellationToken) => inner.GetSessionAsync(clientId, cancellationToken);
    }
}
