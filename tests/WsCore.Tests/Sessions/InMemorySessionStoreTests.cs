using System.Text;
using Microsoft.Extensions.Time.Testing;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Tests.Sessions;

/// <summary>The embedded store: the shared contract, plus the time rules on a stepped clock.</summary>
public sealed class InMemorySessionStoreTests : SessionStoreContract, IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly List<InMemorySessionStore> _stores = [];

    protected override ISessionStore CreateStore(WsOptions options)
    {
        var store = new InMemorySessionStore(Microsoft.Extensions.Options.Options.Create(options), _time);
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task ADisconnectedSessionExpiresAfterItsTtlAndTheIdStartsAfresh()
    {
        var store = CreateStore(new WsOptions { SessionTtlSeconds = 120 });
        var first = await store.ClaimAsync("a", null, 0, "s1", None);
        await store.AppendAsync("a", new OutboundMessage("x", "1"u8.ToArray()), None);
        await store.JoinAsync("a", "g", None);
        await store.ReleaseAsync("a", first.Epoch, None);

        _time.Advance(TimeSpan.FromSeconds(119));
        Assert.NotNull(await store.GetSessionAsync("a", None));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await store.GetSessionAsync("a", None));
        Assert.Null((await store.AppendToGroupAsync("g", new OutboundMessage("x", "1"u8.ToArray()), None)).Entry);
        var fresh = await store.ClaimAsync("a", first.ResumeToken, 0, "s2", None);
        Assert.Equal((ClaimStatus.Created, 0L), (fresh.Status, fresh.LastSeq));
        Assert.Empty(fresh.Log.Entries);
        Assert.NotEqual(first.ResumeToken, fresh.ResumeToken);
        Assert.True(fresh.Epoch > first.Epoch, "epochs never go back, even across expiry");
    }

    [Fact]
    public async Task AConnectedSessionNeverExpires()
    {
        var store = CreateStore(new WsOptions { SessionTtlSeconds = 10 });
        await store.ClaimAsync("a", null, 0, "s1", None);

        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal("s1", (await store.GetSessionAsync("a", None))!.Server);
    }

    [Fact]
    public async Task ThePurgeTimerDropsExpiredSessionsFromGroupsWithoutBeingAsked()
    {
        var store = CreateStore(new WsOptions { SessionTtlSeconds = 10 });
        var claim = await store.ClaimAsync("a", null, 0, "s1", None);
        await store.JoinAsync("a", "g", None);
        await store.ReleaseAsync("a", claim.Epoch, None);

        _time.Advance(TimeSpan.FromSeconds(15));

        Assert.Null((await store.AppendToGroupAsync("g", new OutboundMessage("x", "1"u8.ToArray()), None)).Entry);
    }

    [Fact]
    public async Task MessagesOlderThanTheLogAgeAreDropped()
    {
        var store = CreateStore(new WsOptions { LogMaxAgeSeconds = 60 });
        await store.ClaimAsync("a", null, 0, "s1", None);
        await store.AppendAsync("a", new OutboundMessage("x", "1"u8.ToArray()), None);
        _time.Advance(TimeSpan.FromSeconds(30));
        await store.AppendAsync("a", new OutboundMessage("x", "2"u8.ToArray()), None);
        _time.Advance(TimeSpan.FromSeconds(31));

        var read = await store.ReadLogAsync("a", 0, None);

        Assert.Equal(["2"], read.Entries.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
        Assert.False(read.IsCompleteAfter(0));
        Assert.Equal(2, read.LastSeq);
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }
    }
}
