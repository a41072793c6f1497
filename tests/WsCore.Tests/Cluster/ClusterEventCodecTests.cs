using ServerlessWs.Core.Cluster;
using StackExchange.Redis;

namespace ServerlessWs.Core.Tests.Cluster;

/// <summary>The ws:events record: what one app writes, the other reads back the same; what is not an event reads as none.</summary>
public sealed class ClusterEventCodecTests
{
    public static TheoryData<ClusterEvent> Events() =>
    [
        ClusterEvent.Claimed("alice", "n1", 1_733_000_000_000_001),
        ClusterEvent.Takeover("alice", "n2", 7, "n1"),
        ClusterEvent.Released("bob", "n1", 3),
        ClusterEvent.ServerDown("n3"),
    ];

    [Theory]
    [MemberData(nameof(Events))]
    public void AnEventReadsBackAsWritten(ClusterEvent e) =>
        Assert.Equal(e, ClusterEventCodec.Decode(ClusterEventCodec.Encode(e)));

    [Theory]
    [InlineData("type=claimed", "server=n1")]
    [InlineData("type=claimed", "clientId=a b", "server=n1", "epoch=1")]
    [InlineData("type=claimed", "clientId=a", "server=n1", "epoch=x")]
    [InlineData("type=takeover", "clientId=a", "server=n1", "epoch=2")]
    [InlineData("type=joined", "clientId=a", "server=n1", "epoch=2")]
    [InlineData("type=server-down")]
    public void ARecordThatIsNotAValidEventReadsAsNone(params string[] fields) =>
        Assert.Null(ClusterEventCodec.Decode(fields.Select(f => new NameValueEntry(f.Split('=')[0], f.Split('=')[1])).ToArray()));
}
