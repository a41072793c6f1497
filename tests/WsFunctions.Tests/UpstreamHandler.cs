using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// An application's handler on real Kestrel at 127.0.0.1: it records every call (its CloudEvents attributes, body, and
/// whether the signature verifies with <see cref="SigningKey"/>) and answers what <see cref="Answer"/> says (200 by
/// default).
/// </summary>
public sealed class UpstreamHandler : IAsyncDisposable
{
    public const string SigningKey = "dispatcher-test-signing-key-of-32-characters";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<HandlerCall> _calls = new();

    private UpstreamHandler(WebApplication app) => _app = app;

    /// <summary>The handler's URL, for <c>Upstream:Url</c>.</summary>
    public string Url { get; private set; } = string.Empty;

    /// <summary>The status to answer a call with; may be changed while it runs.</summary>
    public Func<HandlerCall, int> Answer { get; set; } = _ => StatusCodes.Status200OK;

    /// <summary>How long the handler takes before it answers (a handler at work, so calls are in flight when a fault hits).</summary>
    public TimeSpan Delay { get; set; }

    public IReadOnlyList<HandlerCall> Calls => [.. _calls];

    public static async Task<UpstreamHandler> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var handler = new UpstreamHandler(builder.Build());
        handler._app.MapPost("/events", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            string? Header(string name) => request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;
            var ceId = Header("ce-id") ?? string.Empty;
            var call = new HandlerCall(
                ceId, Header("ce-type") ?? string.Empty, Header("ce-clientid") ?? string.Empty, Header("ce-userid"), Header("ce-serverid"), Header("ce-source"),
                System.Text.Encoding.UTF8.GetString(body.ToArray()),
                UpstreamSignature.Verify([SigningKey], Header, body.ToArray()));
            var status = handler.Answer(call);
            handler._calls.Enqueue(call with { Status = status });
            if (handler.Delay > TimeSpan.Zero)
            {
                await Task.Delay(handler.Delay);
            }

            return Results.StatusCode(status);
        });
        await handler._app.StartAsync();
        handler.Url = handler._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single() + "/events";
        return handler;
    }

    /// <summary>The configuration a node or dispatcher needs to call this handler.</summary>
    public (string Key, object Value)[] Settings(params (string Key, object Value)[] more) =>
        [("Upstream:Url", Url), ("Upstream:SigningKeys:0", SigningKey), .. more];

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>One call the handler got, and the status it answered.</summary>
public sealed record HandlerCall(string CeId, string CeType, string ClientId, string? UserId, string? ServerId, string? Source, string Body, bool SignatureVerified)
{
    public int Status { get; init; }
}
