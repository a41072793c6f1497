using System.Net;
using ServerlessWs.App.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Security;

/// <summary>One WebSocket connect, optionally with an <c>Origin</c> and from a chosen loopback address: its HTTP answer.</summary>
public static class ConnectAttempt
{
    /// <summary>
    /// The status (101 when accepted; the socket is then dropped) and the response's content type. On Linux all of
    /// 127.0.0.0/8 is loopback, so <paramref name="from"/> gives a second client address without any network.
    /// </summary>
    public static async Task<(int Status, string? ContentType)> RunAsync(WsNode node, string query = "", string? origin = null, IPAddress? from = null)
    {
        using var connection = await RawConnection.OpenAsync(node, "/ws" + (query.Length > 0 ? "?" + query : string.Empty), origin, from);
        return (connection.Status, connection.ContentType);
    }
}
