using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Telemetry;
using StackExchange.Redis;

namespace ServerlessWs.Functions;

/// <summary>An HTTP function that finds Redis unreachable answers 503 problem details instead of a bare 500.</summary>
internal sealed partial class StoreUnavailableMiddleware(ILogger<StoreUnavailableMiddleware> logger) : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (FindRedisError(e) is { } redisError && context.GetHttpContext() is { } http)
        {
            StoreUnavailable(logger, context.FunctionDefinition.Name, redisError);
            WsMetrics.RedisErrors.Add(1, new KeyValuePair<string, object?>("operation", context.FunctionDefinition.Name));
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await http.Response.WriteAsJsonAsync(
                new ProblemDetails { Status = 503, Title = "Service unavailable", Detail = "The coordination store cannot be reached; retry later." },
                options: null,
                contentType: "application/problem+json");
        }
    }

    private static RedisException? FindRedisError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is RedisException redis)
            {
                return redis;
            }
        }

        return null;
    }

    [LoggerMessage(3200, LogLevel.Warning, "Function {FunctionName} could not reach Redis")]
    private static partial void StoreUnavailable(ILogger logger, string functionName, Exception exception);
}
