using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Telemetry;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Functions;

/// <summary>
/// An HTTP function that finds the store unreachable (<see cref="StoreUnavailableException"/>, thrown only by WsCore's
/// Redis types) answers 503 problem details instead of a bare 500; any other failure stays a 500, a bug.
/// </summary>
internal sealed partial class StoreUnavailableMiddleware(ILogger<StoreUnavailableMiddleware> logger) : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (StoreUnavailableException e) when (context.GetHttpContext() is { } http)
        {
            StoreUnavailable(logger, context.FunctionDefinition.Name, e);
            WsMetrics.RedisErrors.Add(1, new KeyValuePair<string, object?>("operation", context.FunctionDefinition.Name));
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await http.Response.WriteAsJsonAsync(
                new ProblemDetails { Status = 503, Title = "Service unavailable", Detail = "The coordination store cannot be reached; retry later." },
                options: null,
                contentType: "application/problem+json");
        }
    }

    [LoggerMessage(3200, LogLevel.Warning, "Function {FunctionName} could not reach Redis")]
    private static partial void StoreUnavailable(ILogger logger, string functionName, Exception exception);
}
