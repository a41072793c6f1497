using System.Text.Json;
using Microsoft.Extensions.Options;
using ServerlessWs.Client;

namespace ServerlessWs.Samples.ChatHandler;

/// <summary>What <c>time</c> answers: the handler's clock and who asked, as the verified call says.</summary>
public sealed record TimeAnswer(DateTimeOffset Utc, string ClientId);

/// <summary>What a <c>chat</c> line gets back through the admin API: the line, and the <c>ce-id</c> it answers.</summary>
public sealed record ChatReply(string InReplyTo, string Text);

/// <summary>What a <c>chat</c> call answers: how the admin API took the reply (<c>delivered</c>, <c>queued</c>, <c>gone</c>).</summary>
public sealed record ChatAnswer(string Posted);

/// <summary>
/// One call from WsApp (docs/protocol.md §7): verified with <see cref="UpstreamVerifier"/> (401 when the signature is
/// wrong), then answered by its event name. The answer's body is what an <c>invoke</c> gets as its result; for a
/// durable <c>event</c>, a 2xx answer ends the delivery and anything else has it retried, so a failure to post the
/// reply answers 503.
/// </summary>
public sealed partial class ChatHandler(
    UpstreamVerifier verifier, ServerlessWsAdminClient admin, TimeProvider time, IOptions<HandlerOptions> options, ILogger<ChatHandler> logger)
{
    public async Task<IResult> HandleAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (await ReadBodyAsync(request, options.Value.MaxBodyBytes, cancellationToken) is not { } body)
        {
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        }

        var verified = verifier.Verify(name => request.Headers.TryGetValue(name, out var value) ? value.ToString() : null, body);
        if (!verified.IsVerified)
        {
            if (verified.Outcome is UpstreamVerification.BadSignature or UpstreamVerification.Stale)
            {
                Rejected(logger);
                return Results.Unauthorized();
            }

            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "A CloudEvents attribute is missing or malformed.");
        }

        var call = verified.Event;
        Heard(logger, call.Type, call.ClientId, call.Id);
        return (call.Kind, call.Name) switch
        {
            (UpstreamEventKind.User, "time") => Results.Ok(new TimeAnswer(time.GetUtcNow(), call.ClientId)),
            (UpstreamEventKind.User, "chat") => await ChatAsync(call, body, cancellationToken),
            // Lifecycle events (connected, disconnected, takeover) need nothing from this sample: taken.
            (UpstreamEventKind.Lifecycle, _) => Results.NoContent(),
            _ => Results.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"This handler has no event '{call.Name}'."),
        };
    }

    /// <summary>
    /// A chat line, <c>{"text":"…"}</c>: the reply goes to the client that sent it through the admin API, as any
    /// message does (logged, in order, replayed on resume), and the call's answer says how it was taken.
    /// </summary>
    private async Task<IResult> ChatAsync(UpstreamEvent call, byte[] body, CancellationToken cancellationToken)
    {
        string? text;
        try
        {
            using var data = JsonDocument.Parse(body);
            text = data.RootElement.ValueKind == JsonValueKind.Object && data.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String
                ? t.GetString()
                : null;
        }
        catch (JsonException)
        {
            text = null;
        }

        if (text is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "chat takes {\"text\": \"…\"}.");
        }

        try
        {
            var sent = await admin.SendToClientAsync(call.ClientId, new ChatReply(call.Id, "You said: " + text), cancellationToken);
            return Results.Ok(new ChatAnswer(sent.Status));
        }
        catch (AdminNotFoundException)
        {
            // The client's session is gone for good: nobody to answer, and retrying would not change that.
            return Results.Ok(new ChatAnswer("gone"));
        }
        catch (Exception e) when (e is AdminApiException or HttpRequestException)
        {
            ReplyFailed(logger, call.ClientId, e);
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, detail: "The reply could not be posted; retry.");
        }
    }

    /// <summary>The whole body, or null past <paramref name="maxBytes"/>: what a caller sends costs at most that much memory.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    [LoggerMessage(1, LogLevel.Warning, "A call to the handler was refused: its signature matches none of Handler:SigningKeys")]
    private static partial void Rejected(ILogger logger);

    [LoggerMessage(2, LogLevel.Information, "{Type} from {ClientId} ({CeId})")]
    private static partial void Heard(ILogger logger, string type, string clientId, string ceId);

    [LoggerMessage(3, LogLevel.Warning, "The reply to {ClientId} could not be posted through the admin API")]
    private static partial void ReplyFailed(ILogger logger, string clientId, Exception exception);
}
