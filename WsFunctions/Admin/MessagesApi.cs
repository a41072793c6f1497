using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;

namespace ServerlessWs.Functions.Admin;

/// <summary>
/// Admin sends (docs/protocol.md §6): the body is the JSON <c>data</c>, sent from <c>admin</c> through the same router
/// as client sends, so it is logged before delivery and replayed on resume like any message.
/// </summary>
public sealed class MessagesApi(ClusterRegistry registry, MessageRouter router, IOptions<WsOptions> options)
{
    public const string AdminSender = Identifiers.AdminSender;

    /// <summary>How deep the body may nest: one level less than a frame may (docs/protocol.md §5a), as a message wraps it.</summary>
    public const int MaxDataDepth = MessageData.MaxDepth;

    [Function("SendToClient")]
    public Task<IActionResult> SendToClient(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "clients/{clientId}/messages")] HttpRequest request,
        string clientId) =>
        Identifiers.IsValid(clientId)
            ? SendAsync(request, data => router.SendAsync(AdminSender, clientId, data, request.HttpContext.RequestAborted), $"No client '{clientId}'.")
            : Task.FromResult<IActionResult>(Problems.InvalidId("clientId"));

    [Function("SendToGroup")]
    public Task<IActionResult> SendToGroup(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "groups/{group}/messages")] HttpRequest request,
        string group) =>
        Identifiers.IsValid(group)
            ? SendAsync(request, async data => (await router.SendToGroupAsync(AdminSender, group, data, request.HttpContext.RequestAborted)).Outcome, $"Group '{group}' has no members.")
            : Task.FromResult<IActionResult>(Problems.InvalidId("group"));

    /// <summary>
    /// To every connected client: one append to the broadcast group's log and one doorbell that every node hears
    /// (docs/protocol.md §5b), whatever the number of clients. <c>recipients</c> is the connected count at the time.
    /// </summary>
    [Function("Broadcast")]
    public async Task<IActionResult> Broadcast(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "broadcast")] HttpRequest request)
    {
        var (data, problem) = await ReadDataAsync(request);
        if (problem is not null)
        {
            return problem;
        }

        await router.SendToGroupAsync(AdminSender, Groups.Broadcast, data, request.HttpContext.RequestAborted);
        var recipients = await registry.ConnectedCountAsync();
        await FlushCountAsync();
        return new AcceptedResult(location: null, new SendResult(AckStatus.Delivered, recipients));
    }

    /// <summary>Reads the body as <c>data</c>, sends it, and answers 202 with the outcome, or 404 for <c>unknown</c>.</summary>
    private async Task<IActionResult> SendAsync(HttpRequest request, Func<byte[], ValueTask<SendOutcome>> send, string notFound)
    {
        var (data, problem) = await ReadDataAsync(request);
        if (problem is not null)
        {
            return problem;
        }

        var outcome = await send(data);
        await FlushCountAsync();
        return outcome == SendOutcome.Unknown
            ? Problems.NotFound(notFound)
            : new AcceptedResult(location: null, new SendResult(outcome.ToAckStatus()));
    }

    /// <summary>The body as validated JSON of at most <c>Ws:MaxMessageBytes</c>, or the problem to answer with.</summary>
    private async Task<(byte[] Data, IActionResult? Problem)> ReadDataAsync(HttpRequest request)
    {
        var limit = options.Value.MaxMessageBytes;
        if (request.ContentLength > limit)
        {
            return ([], TooLarge(limit));
        }

        if (await MessageData.ReadAsync(request.Body, limit, request.HttpContext.RequestAborted) is not { } data)
        {
            return ([], TooLarge(limit));
        }

        return MessageData.Check(data) switch
        {
            MessageData.Problem.NotUtf8 => ([], Problems.BadRequest("The body must be UTF-8 (RFC 8259).")),
            MessageData.Problem.NotJson => ([], Problems.BadRequest("The body must be one JSON value (the message's data).")),
            _ => (data, null),
        };
    }

    private Task FlushCountAsync() => registry.AddMessagesRoutedAsync(router.TakeAppendedCount());

    private static ObjectResult TooLarge(int limit) =>
        Problems.Of(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"The body may be at most {limit} bytes.");
}
