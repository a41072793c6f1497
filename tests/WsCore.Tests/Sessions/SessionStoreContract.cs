using System.Text;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Tests.Sessions;

/// <summary>
/// What every <see cref="ISessionStore"/> must do, whatever backs it: each implementation's test class derives from
/// this one, so the embedded and the Redis store are held to the same rules (DESIGN.md invariants 1, 2 and 3).
/// </summary>
public abstract class SessionStoreContract
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A fresh, empty store with these options.</summary>
    protected abstract ISessionStore CreateStore(WsOptions options);

    protected ISessionStore Store => _store ??= CreateStore(new WsOptions { LogMaxMessages = 5 });

    private ISessionStore? _store;

    [Fact]
    public async Task AnUnknownIdIsCreatedWithANewTokenAndSeqZero()
    {
        var claim = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);

        Assert.Equal(ClaimStatus.Created, claim.Status);
        Assert.Equal(0, claim.LastSeq);
        Assert.Null(claim.PreviousServer);
        Assert.False(string.IsNullOrEmpty(claim.ResumeToken));
    }

    [Fact]
    public async Task AKnownIdNeedsItsTokenAndARefusalChangesNothing()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);

        Assert.Equal(ClaimStatus.Unauthorized, (await Store.ClaimAsync(Id("a"), null, 0, "s2", None)).Status);
        Assert.Equal(ClaimStatus.Unauthorized, (await Store.ClaimAsync(Id("a"), "wrong", 0, "s2", None)).Status);

        var session = await Store.GetSessionAsync(Id("a"), None);
        Assert.Equal(("s1", first.Epoch), (session!.Server, session.Epoch));
    }

    [Fact]
    public async Task AClaimWithTheTokenTakesOverNamesThePreviousServerAndRaisesTheEpoch()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);

        var second = await Store.ClaimAsync(Id("a"), first.ResumeToken, 0, "s2", None);

        Assert.Equal(ClaimStatus.Resumed, second.Status);
        Assert.Equal("s1", second.PreviousServer);
        Assert.True(second.Epoch > first.Epoch);
        Assert.Equal(first.ResumeToken, second.ResumeToken);
        Assert.Equal("s2", (await Store.GetSessionAsync(Id("a"), None))!.Server);
    }

    [Fact]
    public async Task AReleaseWithAnOldEpochDoesNotUndoANewerClaim()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        var second = await Store.ClaimAsync(Id("a"), first.ResumeToken, 0, "s2", None);

        Assert.False(await Store.ReleaseAsync(Id("a"), first.Epoch, None));
        Assert.Equal("s2", (await Store.GetSessionAsync(Id("a"), None))!.Server);

        Assert.True(await Store.ReleaseAsync(Id("a"), second.Epoch, None));
        Assert.Null((await Store.GetSessionAsync(Id("a"), None))!.Server);
        Assert.False(await Store.ReleaseAsync(Id("a"), second.Epoch, None));
    }

    [Fact]
    public async Task AResumeAfterAReleaseHasNoPreviousServer()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.ReleaseAsync(Id("a"), first.Epoch, None);

        var again = await Store.ClaimAsync(Id("a"), first.ResumeToken, 0, "s1", None);

        Assert.Equal((ClaimStatus.Resumed, (string?)null), (again.Status, again.PreviousServer));
    }

    [Fact]
    public async Task AppendsAreNumberedGaplessAndSayWhereTheRecipientIs()
    {
        Assert.Equal(RecipientState.Unknown, (await Append("a", "0")).State);
        var claim = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);

        var first = await Append("a", "1");
        var second = await Append("a", "2");
        await Store.ReleaseAsync(Id("a"), claim.Epoch, None);
        var third = await Append("a", "3");

        Assert.Equal((RecipientState.Connected, "s1", claim.Epoch), (first.State, first.OwnerServer, first.OwnerEpoch));
        Assert.Equal([1L, 2L, 3L], new[] { first.Entry!.Seq, second.Entry!.Seq, third.Entry!.Seq });
        Assert.Equal(RecipientState.Disconnected, third.State);
    }

    [Fact]
    public async Task ALogReadReturnsEntriesAfterTheSeqInOrderWithTheCounterAndEpoch()
    {
        var claim = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.JoinAsync(Id("a"), Id("g"), None);
        for (var i = 1; i <= 4; i++)
        {
            await Append("a", i.ToString(System.Globalization.CultureInfo.InvariantCulture), from: "b", group: i == 2 ? Id("g") : null);
        }

        var read = await Store.ReadLogAsync(Id("a"), 2, None);

        Assert.Equal([3L, 4L], read.Entries.Select(e => e.Seq));
        Assert.Equal(["3", "4"], read.Entries.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
        Assert.All(read.Entries, e => Assert.Equal("b", e.From));
        Assert.Equal((4L, claim.Epoch), (read.LastSeq, read.Epoch));
        Assert.Equal(Id("g"), (await Store.ReadLogAsync(Id("a"), 1, None)).Entries[0].Group);
        Assert.True(read.IsCompleteAfter(2));
    }

    [Fact]
    public async Task TheLogKeepsOnlyTheNewestMessagesAndSaysSo()
    {
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        for (var i = 1; i <= 8; i++)
        {
            await Append("a", "0");
        }

        var read = await Store.ReadLogAsync(Id("a"), 0, None);

        Assert.Equal([4L, 5L, 6L, 7L, 8L], read.Entries.Select(e => e.Seq));
        Assert.False(read.IsCompleteAfter(0));
        Assert.True(read.IsCompleteAfter(3));
        Assert.True(read.IsCompleteAfter(8));
        Assert.False(read.IsCompleteAfter(9));
    }

    [Fact]
    public async Task SeqContinuesAcrossAResume()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Append("a", "1");
        await Store.ReleaseAsync(Id("a"), first.Epoch, None);

        var again = await Store.ClaimAsync(Id("a"), first.ResumeToken, 0, "s2", None);

        Assert.Equal(1, again.LastSeq);
        Assert.Equal(2, (await Append("a", "2")).Entry!.Seq);
    }

    [Fact]
    public async Task AResumeReadsTheLogAfterTheGivenSeqInTheSameStep()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        for (var i = 1; i <= 4; i++)
        {
            await Append("a", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var resumed = await Store.ClaimAsync(Id("a"), first.ResumeToken, 2, "s2", None);

        Assert.Equal([3L, 4L], resumed.Log.Entries.Select(e => e.Seq));
        Assert.Equal(["3", "4"], resumed.Log.Entries.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
        Assert.Equal((4L, resumed.Epoch), (resumed.Log.LastSeq, resumed.Log.Epoch));
        Assert.True(resumed.Log.IsCompleteAfter(2));
    }

    [Fact]
    public async Task GroupMembershipIsKeptPerClientAndLeaveRemovesIt()
    {
        var g = Id("g");
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.ClaimAsync(Id("b"), null, 0, "s1", None);

        await Store.JoinAsync(Id("a"), g, None);
        await Store.JoinAsync(Id("b"), g, None);
        await Store.JoinAsync(Id("b"), g, None);
        Assert.Equal([Id("a"), Id("b")], (await Store.GetGroupMembersAsync(g, None)).Order(StringComparer.Ordinal));

        await Store.LeaveAsync(Id("a"), g, None);
        Assert.Equal([Id("b")], await Store.GetGroupMembersAsync(g, None));
        Assert.Empty(await Store.GetGroupMembersAsync(Id("other"), None));
    }

    [Fact]
    public async Task AGroupMessageReachesOnlyAMemberOfThatGroup()
    {
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.JoinAsync(Id("a"), Id("in"), None);

        Assert.Equal(RecipientState.Connected, (await Append("a", "1", group: Id("in"))).State);
        Assert.Equal(RecipientState.Unknown, (await Append("a", "2", group: Id("out"))).State);
        await Store.LeaveAsync(Id("a"), Id("in"), None);
        Assert.Equal(RecipientState.Unknown, (await Append("a", "3", group: Id("in"))).State);
    }

    [Fact]
    public async Task AnUnknownIdCannotJoin()
    {
        await Store.JoinAsync(Id("ghost"), Id("g"), None);

        Assert.Empty(await Store.GetGroupMembersAsync(Id("g"), None));
    }

    /// <summary>Ids are unique per test so that implementations sharing a server do not see each other.</summary>
    protected virtual string Id(string name) => name;

    private ValueTask<AppendResult> Append(string to, string json, string from = "x", string? group = null) =>
        Store.AppendAsync(Id(to), new OutboundMessage(from, group, Encoding.UTF8.GetBytes(json)), None);
}
