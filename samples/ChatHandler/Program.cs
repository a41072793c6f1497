using ServerlessWs.Samples.ChatHandler;

// The sample handler: set Handler__SigningKeys__0 (the same key as WsApp's Upstream__SigningKeys__0), Admin__BaseAddress
// and Admin__FunctionKey, then point WsApp's Upstream__Url at http://<this host>/upstream (README.md in this folder).
ChatHandlerApp.Build(args).Run();
