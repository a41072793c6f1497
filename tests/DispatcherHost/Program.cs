using Microsoft.Extensions.Hosting;
using ServerlessWs.Core.Hosting;
using ServerlessWs.Functions.Upstream;

// The upstream dispatcher alone, configured as the worker is (Redis__*, Upstream__* environment variables).
var builder = Host.CreateApplicationBuilder(args);
if (!builder.Services.AddServerlessWsCore(builder.Configuration))
{
    throw new InvalidOperationException("The dispatcher needs Redis: set Redis:ConnectionString.");
}

builder.Services.AddUpstreamDispatcher();
builder.Build().Run();
