using System.Text;
using ServerlessWs.Core.Redis;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Tests.Redis;

public sealed class InboxCodecTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("room-1")]
    public void ADeliverRoundTripsEveryField(string? group)
    {
        var entry = new LogEntry(long.MaxValue - 1, "admin", group, Encoding.UTF8.GetBytes("""{"ü":[1,2]}"""), 1_764_000_000_123)
        {
            TraceParent = group is null ? null : "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        };
        var inbox = new RecordingInbox();

        Assert.True(InboxCodec.Dispatch(InboxCodec.EncodeDeliver("client:1", entry), inbox));

        var (clientId, received) = Assert.Single(inbox.Delivered);
        Assert.Equal("client:1", clientId);
        Assert.Equal((entry.Seq, entry.From, entry.Group, entry.AppendedAtMs, entry.TraceParent), (received.Seq, received.From, received.Group, received.AppendedAtMs, received.TraceParent));
        Assert.Equal(entry.Data.ToArray(), received.Data.ToArray());
    }

    [Fact]
    public void AKickRoundTrips()
    {
        var inbox = new RecordingInbox();

        Assert.True(InboxCodec.Dispatch(InboxCodec.EncodeKick("c", 1_764_000_000_000_001, 4001), inbox));

        Assert.Equal(("c", 1_764_000_000_000_001L, 4001), Assert.Single(inbox.Kicked));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { (byte)'D' })]
    [InlineData(new byte[] { (byte)'X', 0, 0 })]
    [InlineData(new byte[] { (byte)'K', 0, 1, (byte)'c', 0, 0 })]
    public void AnUnreadablePayloadIsRefusedAndDispatchesNothing(byte[] payload)
    {
        var inbox = new RecordingInbox();

        Assert.False(InboxCodec.Dispatch(payload, inbox));
        Assert.Empty(inbox.Delivered);
        Assert.Empty(inbox.Kicked);
    }

    private sealed class RecordingInbox : INodeInbox
    {
        public List<(string, LogEntry)> Delivered { get; } = [];

        public List<(string, long, int)> Kicked { get; } = [];

        public void OnDeliver(string clientId, LogEntry entry) => Delivered.Add((clientId, entry));

        public void OnKick(string clientId, long maxEpoch, int closeCode) => Kicked.Add((clientId, maxEpoch, closeCode));
    }
}
