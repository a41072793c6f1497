using Microsoft.AspNetCore.Http.Features;

namespace ServerlessWs.App.Heartbeat;

/// <summary>
/// Slips a <see cref="HeartbeatStream"/> under the framework's WebSocket handshake by wrapping the upgrade features
/// (HTTP/1.1 upgrade and HTTP/2 extended CONNECT). The handshake itself stays the framework's.
/// </summary>
internal static class HeartbeatUpgrade
{
    /// <summary>Must run before <c>UseWebSockets</c>, which reads these features when a request arrives.</summary>
    public static IApplicationBuilder UseHeartbeatStreams(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        var features = http.Features;
        if (features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            features.Set<IHttpUpgradeFeature>(new Upgrade(upgrade, features));
        }

        if (features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            features.Set<IHttpExtendedConnectFeature>(new ExtendedConnect(connect, features));
        }

        return next(http);
    });

    /// <summary>The stream the request was upgraded to, once it was.</summary>
    public static HeartbeatStream? GetHeartbeatStream(this HttpContext http) => http.Features.Get<HeartbeatStream>();

    private static HeartbeatStream Wrap(Stream stream, IFeatureCollection features)
    {
        var heartbeat = new HeartbeatStream(stream);
        features.Set(heartbeat);
        return heartbeat;
    }

    private sealed class Upgrade(IHttpUpgradeFeature inner, IFeatureCollection features) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => Wrap(await inner.UpgradeAsync(), features);
    }

    private sealed class ExtendedConnect(IHttpExtendedConnectFeature inner, IFeatureCollection features) : IHttpExtendedConnectFeature
    {
        public bool IsExtendedConnect => inner.IsExtendedConnect;

        public string? Protocol => inner.Protocol;

        public async ValueTask<Stream> AcceptAsync() => Wrap(await inner.AcceptAsync(), features);
    }
}
