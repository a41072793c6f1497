using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessWs.Functions;
using ServerlessWs.Functions.Tests;

namespace ServerlessWs.Client.Tests;

/// <summary>An HTTP-triggered function of WsFunctions as its attributes declare it.</summary>
public sealed record HttpFunction(string Name, Type Type, MethodInfo Method, string Route, string[] Methods, AuthorizationLevel AuthLevel);

/// <summary>
/// The admin API over real HTTP on loopback. This stands in for the Functions host's HTTP routing, which cannot be
/// installed here: every route comes from the <c>[Function]</c> and <c>[HttpTrigger]</c> attributes of WsFunctions'
/// assembly (route template, methods, key level), never copied by hand, under the host's <c>/api</c> prefix; a
/// function key is checked as the host checks it (<c>x-functions-key</c> or <c>code</c>, else 401 without a body);
/// the function class is activated from WsFunctionsHost's DI graph (<see cref="FunctionsHarness"/>) and its
/// <see cref="IActionResult"/> executed by ASP.NET Core MVC, as the worker's ASP.NET Core integration does.
/// </summary>
public sealed class AdminApiServer : IAsyncDisposable
{
    public const string FunctionKey = "a-test-function-key";

    private readonly WebApplication _app;

    private AdminApiServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    /// <summary>The admin API's root as a client configures it: <c>http://127.0.0.1:port/api/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>How many requests reached each function, by function name.</summary>
    public ConcurrentDictionary<string, int> Calls { get; } = new();

    /// <summary>Every HTTP-triggered function WsFunctions declares.</summary>
    public static IReadOnlyList<HttpFunction> Functions { get; } =
    [
        .. from type in typeof(WsFunctionsHost).Assembly.GetTypes()
           from method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
           let function = method.GetCustomAttribute<FunctionAttribute>()
           let trigger = method.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).SingleOrDefault(a => a is not null)
           where function is not null && trigger is not null
           select new HttpFunction(
               function.Name,
               type,
               method,
               trigger.Route ?? function.Name,
               [.. (trigger.Methods ?? ["get", "post"]).Select(m => m.ToUpperInvariant())],
               trigger.AuthLevel),
    ];

    public static async Task<AdminApiServer> StartAsync(FunctionsHarness functions)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The executors of IActionResult (ObjectResult as JSON, problem details): what the worker's integration uses.
        builder.Services.AddMvcCore();
        var app = builder.Build();
        AdminApiServer? server = null;
        foreach (var function in Functions)
        {
            app.MapMethods("/api/" + function.Route, function.Methods, http => server!.InvokeAsync(http, function, functions.Services));
        }

        await app.StartAsync();
        server = new AdminApiServer(app, new Uri(Loopback.AddressOf(app) + "/api/"));
        return server;
    }

    private async Task InvokeAsync(HttpContext http, HttpFunction function, IServiceProvider services)
    {
        if (function.AuthLevel != AuthorizationLevel.Anonymous
            && http.Request.Headers["x-functions-key"].ToString() != FunctionKey
            && http.Request.Query["code"].ToString() != FunctionKey)
        {
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        Calls.AddOrUpdate(function.Name, 1, (_, n) => n + 1);
        var instance = function.Method.IsStatic ? null : ActivatorUtilities.CreateInstance(services, function.Type);
        var arguments = function.Method.GetParameters()
            .Select(object? (p) => p.ParameterType == typeof(HttpRequest) ? http.Request
                : p.ParameterType == typeof(string) ? http.GetRouteValue(p.Name!)?.ToString()
                : throw new InvalidOperationException($"{function.Name}: no binding for parameter {p.Name} of {p.ParameterType}."))
            .ToArray();
        var result = function.Method.Invoke(instance, arguments) switch
        {
            Task<IActionResult> task => await task,
            IActionResult action => action,
            var other => throw new InvalidOperationException($"{function.Name} returned {other?.GetType()}, not an IActionResult."),
        };
        await result.ExecuteResultAsync(new ActionContext(http, http.GetRouteData(), new ActionDescriptor()));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
