using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using ServerlessWs.App.Heartbeat;

namespace ServerlessWs.App.Admission;

/// <summary>
/// <c>GET /ws</c> as it reaches the HTTP pipeline (a later request on a keep-alive connection, HTTP/2): the first
/// request of a connection is served by the fast path (<c>Upgrade/WebSocketFastPath</c>). Both paths run
/// <see cref="ConnectAdmission.AdmitAsync"/> and <see cref="ConnectAdmission.RunAsync"/>; only the handshake differs.
/// </summary>
internal static class WebSocketEndpoint
{
    public static async Task HandleAsync(HttpContext http, ConnectAdmission admissions)
    {
        // RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request, which Kestrel does not do for us.
        if (!http.WebSockets.IsWebSocketRequest || HttpProtocol.IsHttp10(http.Request.Protocol))
        {
            await admissions.RefuseAsync(http, StatusCodes.Status400BadRequest, "A WebSocket upgrade request is required.");
            return;
        }

        if (await admissions.AdmitAsync(http) is not { } admission)
        {
            return;
        }

        WebSocket socket;
        HeartbeatStream heartbeat;
        try
        {
            // Keep-alive is off here: the heartbeat sweep pings and counts pongs itself (see HeartbeatStream).
            socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.Zero });
            heartbeat = http.GetHeartbeatStream()
                ?? throw new InvalidOperationException("UseHeartbeatStreams must run before UseWebSockets.");
        }
        catch
        {
            // The claim is given back whatever failed: the client got no 101, or a socket nobody will serve.
            await admissions.AbandonAsync(admission);
            throw;
        }

        await admissions.RunAsync(admission, socket, heartbeat);
    }
}
