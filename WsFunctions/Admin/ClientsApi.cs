using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using ServerlessWs.Core.Cluster;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Functions.Admin;

/// <summary>Admin routes on clients: look one up, list them page by page, close one (docs/protocol.md §6).</summary>
public sealed class ClientsApi(ClusterRegistry registry, ISessionStore store, INodeBus bus)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    [Function("GetClient")]
    public async Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "clients/{clientId}")] HttpRequest request,
        string clientId)
    {
        if (!Identifiers.IsValid(clientId))
        {
            return Problems.InvalidId("clientId");
        }

        return await store.GetSessionAsync(clientId, request.HttpContext.RequestAborted) is { } session
            ? new OkObjectResult(new ClientView(session.ClientId, session.Server, session.Server is not null, session.Epoch, session.ConnectedAt))
            : Problems.NotFound($"No client '{clientId}'.");
    }

    /// <summary>
    /// Connected clients in id order, from the reconciler's index. The cursor is the last id of the previous page,
    /// so an id connected for the whole walk comes exactly once, whatever connects or leaves meanwhile.
    /// </summary>
    [Function("ListClients")]
    public async Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "clients")] HttpRequest request)
    {
        var server = request.Query["server"].ToString();
        var cursor = request.Query["cursor"].ToString();
        var limitText = request.Query["limit"].ToString();
        if (server.Length > 0 && !Identifiers.IsValid(server))
        {
            return Problems.InvalidId("server");
        }

        if (cursor.Length > 0 && !Identifiers.IsValid(cursor))
        {
            return Problems.BadRequest("cursor must be the nextCursor of a previous page.");
        }

        var limit = DefaultLimit;
        if (limitText.Length > 0 && (!int.TryParse(limitText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            return Problems.BadRequest($"limit must be a whole number from 1 to {MaxLimit}.");
        }

        var page = await registry.ListClientsAsync(server, cursor, limit);
        var items = page.Items.Select(c => new ClientListItem(c.ClientId, c.Server)).ToArray();
        return new OkObjectResult(new ClientPage(items, page.More ? items[^1].ClientId : null));
    }

    /// <summary>Closes the client's socket with 4001, on whatever node holds it.</summary>
    [Function("CloseClient")]
    public async Task<IActionResult> Close(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "clients/{clientId}")] HttpRequest request,
        string clientId)
    {
        if (!Identifiers.IsValid(clientId))
        {
            return Problems.InvalidId("clientId");
        }

        var session = await store.GetSessionAsync(clientId, request.HttpContext.RequestAborted);
        if (session?.Server is not { } server)
        {
            return Problems.NotFound($"Client '{clientId}' is not connected.");
        }

        await bus.KickAsync(server, clientId, session.Epoch, CloseCodes.ClosedByAdmin, request.HttpContext.RequestAborted);
        return new AcceptedResult();
    }
}
