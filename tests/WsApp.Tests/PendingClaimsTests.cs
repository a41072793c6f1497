using ServerlessWs.App.Connections;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Tests;

/// <summary>
/// What a node holds for a client between its claim and its socket's registration: the doorbells and kicks that
/// would otherwise find no socket (the claim read the log before them). Cross-node behaviour around it is in
/// <see cref="ClusterRaceTests"/>; these pin the window's own rules.
/// </summary>
public sealed class PendingClaimsTests
{
    private readonly PendingClaims _pending = new();

    [Fact]
    public void DoorbellsAndTheNewestKickThatRingWhileTheWindowIsOpenAreHandedOverInArrivalOrder()
    {
        var window = _pending.Open("a");
        _pending.Hold("a", Entry(2));
        _pending.Hold("a", Entry(1));
        _pending.HoldKick("a", maxEpoch: 7, CloseCodes.TakenOver);
        _pending.HoldKick("a", maxEpoch: 5, 4001);

        var held = _pending.Close(window);

        Assert.Equal([2L, 1L], held.Entries.Select(e => e.Seq));
        Assert.Equal((7L, CloseCodes.TakenOver), (held.Kick.MaxEpoch, held.Kick.CloseCode));
        Assert.True(held.Kick.Closes(7));
        Assert.False(held.Kick.Closes(8));
    }

    [Fact]
    public void NothingIsHeldForOtherIdsOrAfterTheWindowClosed()
    {
        _pending.Hold("a", Entry(1));
        var window = _pending.Open("a");
        _pending.Hold("b", Entry(2));
        _pending.HoldKick("b", maxEpoch: 9, CloseCodes.TakenOver);

        var held = _pending.Close(window);
        _pending.Hold("a", Entry(3));

        Assert.Empty(held.Entries);
        Assert.False(held.Kick.Closes(0));
        Assert.False(IsOpen("a"));
        Assert.False(IsOpen("b"));
    }

    [Fact]
    public void ConnectsOfOneIdInProgressAtOnceEachGetEverythingHeldWhileTheirOwnWasOpen()
    {
        var first = _pending.Open("a");
        _pending.Hold("a", Entry(1));
        var second = _pending.Open("a");
        _pending.Hold("a", Entry(2));

        var firstHeld = _pending.Close(first);
        _pending.Hold("a", Entry(3));
        var secondHeld = _pending.Close(second);

        Assert.Equal([1L, 2L], firstHeld.Entries.Select(e => e.Seq));
        Assert.Equal([1L, 2L, 3L], secondHeld.Entries.Select(e => e.Seq));
        Assert.False(IsOpen("a"));

        // A window closed by its last connect is not reused: a new connect starts with nothing held.
        Assert.Empty(_pending.Close(_pending.Open("a")).Entries);
    }

    [Fact]
    public async Task WindowsOpenedAndClosedFromManyThreadsAtOnceLeaveNoneBehind()
    {
        var ids = Enumerable.Range(0, 8).Select(i => $"id-{i}").ToArray();
        var workers = Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            for (var round = 0; round < 5_000; round++)
            {
                var id = ids[(round + worker) % ids.Length];
                var window = _pending.Open(id);
                _pending.Hold(id, Entry(round));
                Assert.NotEmpty(_pending.Close(window).Entries);
            }
        }));

        await Task.WhenAll(workers);

        Assert.All(ids, id => Assert.False(IsOpen(id)));
    }

    /// <summary>
    /// Whether a window of <paramref name="clientId"/> is still open: then a doorbell now is held in it, and a connect
    /// that opens its window after that joins it and gets the doorbell; with none open, nothing is held for anyone.
    /// </summary>
    private bool IsOpen(string clientId)
    {
        _pending.Hold(clientId, Entry(1_000));
        return _pending.Close(_pending.Open(clientId)).Entries.Length > 0;
    }

    private static LogEntry Entry(long seq) => new(seq, "x", null, "1"u8.ToArray(), 0);
}
