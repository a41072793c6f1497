using ServerlessWs.App.Hosting;

// WsApp: the WebSocket front of ServerlessWs. With no Redis:ConnectionString it runs embedded, single-node,
// with the whole protocol in memory; see docs/configuration.md for configuration.
var app = WsAppHost.Build(args);
app.Run();
