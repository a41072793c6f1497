using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>Configuration is validated at start-up; a bad value stops the host with a message naming the key.</summary>
public sealed class OptionsTests
{
    [Theory]
    [InlineData("Ws:HeartbeatSeconds", "0")]
    [InlineData("Ws:SessionTtlSeconds", "-5")]
    [InlineData("Ws:LogMaxMessages", "0")]
    [InlineData("Ws:MaxMessageBytes", "10")]
    [InlineData("Ws:MaxConnections", "-1")]
    [InlineData("Ws:DrainSeconds", "99999")]
    [InlineData("Ws:FramesPerSecond", "0")]
    [InlineData("Ws:SendQueueLimit", "0")]
    [InlineData("Ws:SendQueueBytes", "100")]
    [InlineData("Ws:MaxFragmentsPerMessage", "0")]
    [InlineData("Ws:ServerId", "has space")]
    [InlineData("Ws:HeartbeatSeconds", "soon")]
    public async Task ABadValueStopsStartUpWithAMessageNamingTheKey(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => WsNode.StartAsync(Settings.Of((key, value))));

        Assert.Contains(key, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDefaultsStartAndMatchTheDesign()
    {
        await using var node = await WsNode.StartAsync();
        await using var client = await TestClient.ConnectAsync(node);

        Assert.Equal(30, client.Welcome.GetProperty("heartbeatSeconds").GetInt32());
        Assert.False(string.IsNullOrEmpty(client.Welcome.GetProperty("serverId").GetString()));
    }
}
