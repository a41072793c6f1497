using System.Text;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Tests.Sessions;

/// <summary>
/// What every <see cref="ISessionStore"/> must do, whatever backs it: each implementation's test class derives from
/// this one, so the embedded and the Redis store are held to the same rules (docs/design.md invariants 1, 2 and 3).
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
        for (var i = 1; i <= 4; i++)
        {
            await Append("a", i.ToString(System.Globalization.CultureInfo.InvariantCulture), from: "b");
        }

        var read = await Store.ReadLogAsync(Id("a"), 2, None);

        Assert.Equal([3L, 4L], read.Entries.Select(e => e.Seq));
        Assert.Equal(["3", "4"], read.Entries.Select(e => Encoding.UTF8.GetString(e.Data.Span)));
        Assert.All(read.Entries, e => Assert.Equal("b", e.From));
        Assert.Equal((4L, claim.Epoch), (read.LastSeq, read.Epoch));
        Assert.Null((await Store.ReadLogAsync(Id("a"), 1, None)).Entries[0].Group);
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
    public async Task AGroupMessageIsOneEntryInTheGroupsOwnLogWithGaplessGseqFromOne()
    {
        var (g, other) = (Id("g"), Id("other"));
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.ClaimAsync(Id("b"), null, 0, "s1", None);
        Assert.Equal(new GroupJoin(GroupJoinStatus.Joined, 0), await Store.JoinAsync(Id("a"), g, None));
        await Store.JoinAsync(Id("b"), g, None);
        await Store.JoinAsync(Id("a"), other, None);

        var first = await AppendToGroup(g, "1", from: "x");
        var second = await AppendToGroup(g, "2", from: "x");
        var elsewhere = await AppendToGroup(other, "3", from: "x");

        Assert.Equal((1L, 2L, 1L), (first.Entry!.Seq, second.Entry!.Seq, elsewhere.Entry!.Seq));
        Assert.Equal(2, first.Recipients);
        var read = await Store.ReadGroupLogAsync(g, 0, None);
        Assert.Equal(2, read.LastGseq);
        Assert.Equal([(1L, "x", g, "1"), (2L, "x", g, "2")], read.Entries.Select(e => (e.Seq, e.From, e.Group, Encoding.UTF8.GetString(e.Data.Span))));
        // Nothing went to the members' own logs: their seq counts direct messages only.
        Assert.Empty((await Store.ReadLogAsync(Id("a"), 0, None)).Entries);
        Assert.Equal(0, (await Store.ReadLogAsync(Id("b"), 0, None)).LastSeq);
    }

    [Fact]
    public async Task ConcurrentGroupSendsGetEveryGseqOnce()
    {
        var g = Id("g");
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.JoinAsync(Id("a"), g, None);

        var appended = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => AppendToGroup(g, "0", from: $"x{i % 4}").AsTask()));

        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), appended.Select(r => r.Entry!.Seq).Order());
    }

    [Fact]
    public async Task AJoinReturnsTheGseqTheMemberIsOwedMessagesAfter()
    {
        var g = Id("g");
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.ClaimAsync(Id("b"), null, 0, "s1", None);
        await Store.JoinAsync(Id("a"), g, None);
        await AppendToGroup(g, "1", from: "x");
        await AppendToGroup(g, "2", from: "x");

        Assert.Equal(new GroupJoin(GroupJoinStatus.Joined, 2), await Store.JoinAsync(Id("b"), g, None));
        Assert.Equal(new GroupJoin(GroupJoinStatus.Joined, 2), await Store.JoinAsync(Id("b"), g, None));
    }

    [Fact]
    public async Task AGroupWithNoMemberButTheSenderAppendsNothing()
    {
        var g = Id("g");
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);

        Assert.Null((await AppendToGroup(g, "1", from: "x")).Entry);
        await Store.JoinAsync(Id("a"), g, None);
        Assert.Null((await AppendToGroup(g, "2", from: Id("a"))).Entry);
        Assert.Equal((1L, 1L), ((await AppendToGroup(g, "3", from: "x")).Entry!.Seq, (await Store.ReadGroupLogAsync(g, 0, None)).LastGseq));
    }

    [Fact]
    public async Task LeaveEndsMembershipAndTheSessionNoLongerNamesTheGroup()
    {
        var g = Id("g");
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.JoinAsync(Id("a"), g, None);
        await Store.JoinAsync(Id("a"), Id("kept"), None);

        await Store.LeaveAsync(Id("a"), g, None);

        Assert.Null((await AppendToGroup(g, "1", from: "x")).Entry);
        var resumed = await Store.ClaimAsync(Id("a"), first.ResumeToken, 0, "s2", None);
        Assert.Equal([Id("kept")], resumed.Groups);
    }

    [Fact]
    public async Task AResumeReadsTheSessionsGroupsAndACreatedSessionHasNone()
    {
        var first = await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.JoinAsync(Id("a"), Id("g1"), None);
        await Store.JoinAsync(Id("a"), Id("g2"), None);

        var resumed = await Store.ClaimAsync(Id("a"), first.ResumeToken, 0, "s2", None);

        Assert.Empty(first.Groups);
        Assert.Equal([Id("g1"), Id("g2")], resumed.Groups.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AnUnknownIdCannotJoin()
    {
        Assert.Equal(GroupJoinStatus.UnknownClient, (await Store.JoinAsync(Id("ghost"), Id("g"), None)).Status);

        Assert.Null((await AppendToGroup(Id("g"), "1", from: "x")).Entry);
    }

    [Fact]
    public async Task AClientJoinsAtMostMaxGroupsPerClientGroups()
    {
        var store = CreateStore(new WsOptions { MaxGroupsPerClient = 2 });
        await store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await store.JoinAsync(Id("a"), Id("g1"), None);
        await store.JoinAsync(Id("a"), Id("g2"), None);

        Assert.Equal(GroupJoinStatus.TooManyGroups, (await store.JoinAsync(Id("a"), Id("g3"), None)).Status);
        Assert.Equal(GroupJoinStatus.Joined, (await store.JoinAsync(Id("a"), Id("g2"), None)).Status);
        Assert.Null((await store.AppendToGroupAsync(Id("g3"), new OutboundMessage("x", "1"u8.ToArray()), None)).Entry);
        await store.LeaveAsync(Id("a"), Id("g1"), None);
        Assert.Equal(GroupJoinStatus.Joined, (await store.JoinAsync(Id("a"), Id("g3"), None)).Status);
    }

    [Fact]
    public async Task AGroupTakesAtMostMaxMembersPerGroupMembers()
    {
        var store = CreateStore(new WsOptions { MaxMembersPerGroup = 2 });
        foreach (var name in new[] { "a", "b", "c" })
        {
            await store.ClaimAsync(Id(name), null, 0, "s1", None);
        }

        await store.JoinAsync(Id("a"), Id("g"), None);
        await store.JoinAsync(Id("b"), Id("g"), None);

        Assert.Equal(GroupJoinStatus.GroupFull, (await store.JoinAsync(Id("c"), Id("g"), None)).Status);
        Assert.Equal(GroupJoinStatus.Joined, (await store.JoinAsync(Id("b"), Id("g"), None)).Status);
        // A refused join changed nothing: c's session does not name the group, and it counts as no member.
        Assert.Equal(2, (await store.AppendToGroupAsync(Id("g"), new OutboundMessage("x", "1"u8.ToArray()), None)).Recipients);
        await store.LeaveAsync(Id("a"), Id("g"), None);
        Assert.Equal(GroupJoinStatus.Joined, (await store.JoinAsync(Id("c"), Id("g"), None)).Status);
    }

    [Fact]
    public async Task AGroupsLogKeepsOnlyTheNewestMessagesAndSaysSo()
    {
        var g = Id("g");
        await Store.ClaimAsync(Id("a"), null, 0, "s1", None);
        await Store.JoinAsync(Id("a"), g, None);
        for (var i = 1; i <= 8; i++)
        {
            await AppendToGroup(g, "0", from: "x");
        }

        var read = await Store.ReadGroupLogAsync(g, 0, None);

        Assert.Equal([4L, 5L, 6L, 7L, 8L], read.Entries.Select(e => e.Seq));
        Assert.Equal([7L, 8L], (await Store.ReadGroupLogAsync(g, 6, None)).Entries.Select(e => e.Seq));
        Assert.False(read.IsCompleteAfter(0));
        Assert.True(read.IsCompleteAfter(3));
        Assert.True(read.IsCompleteAfter(8));
        Assert.False(read.IsCompleteAfter(9), "a position past the counter means the log was lost");
        Assert.Equal((0L, 0), ((await Store.ReadGroupLogAsync(Id("never"), 0, None)).LastGseq, (await Store.ReadGroupLogAsync(Id("never"), 0, None)).Entries.Count));
    }

    [Fact]
    public async Task TheBroadcastGroupAppendsWithoutMembers()
    {
        var before = (await Store.ReadGroupLogAsync(Groups.Broadcast, 999_999_999_999_999, None)).LastGseq;

        var first = await Store.AppendToGroupAsync(Groups.Broadcast, new OutboundMessage("admin", "1"u8.ToArray()), None);
        var second = await Store.AppendToGroupAsync(Groups.Broadcast, new OutboundMessage("admin", "2"u8.ToArray()), None);

        Assert.True(first.Entry!.Seq > before);
        Assert.Equal(first.Entry.Seq + 1, second.Entry!.Seq);
        Assert.Equal(Groups.Broadcast, second.Entry.Group);
    }

    /// <summary>Ids are unique per test so that implementations sharing a server do not see each other.</summary>
    protected virtual string Id(string name) => name;

    private ValueTask<AppendResult> Append(string to, string json, string from = "x") =>
        Store.AppendAsync(Id(to), new OutboundMessage(from, Encoding.UTF8.GetBytes(json)), None);

    private ValueTask<GroupAppendResult> AppendToGroup(string group, string json, string from) =>
        Store.AppendToGroupAsync(group, new OutboundMessage(from, Encoding.UTF8.GetBytes(json)), None);
}
