using Microsoft.Extensions.Hosting;
using ServerlessWs.Functions;

// WsFunctions: ownership reconciliation from ws:events, stale-entry cleanup, and the admin HTTP API.
WsFunctionsHost.Build(args).Run();
