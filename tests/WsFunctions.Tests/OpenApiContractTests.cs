using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using ServerlessWs.Core.Options;
using ServerlessWs.Functions.Admin;

namespace ServerlessWs.Functions.Tests;

/// <summary>
/// The OpenAPI document (GET /api/openapi.json) against what the build declares (functions.metadata: every HTTP
/// function an operation with its method, route and key, and the reverse) and against what the handlers answer
/// (every documented status is one a handler answers, and every status a handler answers is documented).
/// </summary>
public sealed class OpenApiContractTests
{
    // Answered outside the handlers: 401 by the Functions host for a missing or wrong key, 503 by
    // StoreUnavailableMiddleware when Redis cannot be reached.
    private static readonly int[] HostAnswers = [401, 503];

    [Fact]
    public void TheDocumentIsServedAsOpenApi3JsonWithoutAKey()
    {
        var result = Assert.IsType<ContentResult>(OpenApiApi.Get(FunctionsHarness.Request("GET")));

        Assert.Equal((200, "application/json"), (result.StatusCode, result.ContentType));
        Assert.StartsWith("3.", (string)JsonNode.Parse(result.Content!)!["openapi"]!, StringComparison.Ordinal);
        Assert.Equal("Anonymous", (string)BuiltFunctions().Single(f => (string)f["name"]! == "GetOpenApiDocument")["bindings"]![0]!["authLevel"]!);
    }

    [Fact]
    public void EveryHttpFunctionIsAnOperationWithItsMethodRouteAndKeyAndTheReverse()
    {
        var built = BuiltFunctions()
            .Select(f => (Name: (string)f["name"]!, Trigger: f["bindings"]!.AsArray().SingleOrDefault(b => (string)b!["type"]! == "httpTrigger")))
            .Where(f => f.Trigger is not null)
            .Select(f => Operation(
                f.Name,
                ((string)f.Trigger!["methods"]![0]!).ToUpperInvariant(),
                "/" + (string)f.Trigger["route"]!,
                (string)f.Trigger["authLevel"]! != "Anonymous"))
            .Order(StringComparer.Ordinal);

        var document = Document();
        var globalKey = document["security"]!.AsArray().Count > 0;
        var documented = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject()
                .Where(op => op.Key != "parameters")
                .Select(op => Operation(
                    (string)op.Value!["operationId"]!,
                    op.Key.ToUpperInvariant(),
                    path.Key,
                    op.Value["security"] is JsonArray own ? own.Count > 0 : globalKey)))
            .Order(StringComparer.Ordinal);

        Assert.Equal(built, documented);
    }

    [Fact]
    public async Task EveryDocumentedStatusIsOneTheHandlerAnswersAndTheReverse()
    {
        await using var f = await FunctionsHarness.StartAsync(new WsOptions { MaxMessageBytes = 256 });
        await f.Store.ClaimAsync("alice", null, 0, "n1", default);
        await f.Store.JoinAsync("alice", "room", default);
        await f.ReconcileAllAsync();
        var tooLarge = "\"" + new string('x', 300) + "\"";
        await f.EventLog.AppendAsync(ServerlessWs.Core.Upstream.UpstreamRecord.FromClient("saved", "alice", null, "n1", DateTimeOffset.UtcNow, "1"u8.ToArray()));
        var partition = ServerlessWs.Core.Upstream.UpstreamEventLog.PartitionOf("alice", f.EventLog.Partitions);
        await f.EventLog.DeadLetterAsync(Assert.Single(await f.EventLog.ReadNewAsync(partition, "test", 10)), "test", 1);
        var deadId = Assert.Single(await f.EventLog.ListDeadLettersAsync(null, 10)).Id;

        // Each operation driven to every answer its handler has.
        var answered = new Dictionary<string, IActionResult[]>
        {
            ["ListServers"] = [await f.Fleet.ListServers(Get())],
            ["GetStats"] = [await f.Fleet.GetStats(Get())],
            ["ListClients"] = [await f.Clients.List(Get()), await f.Clients.List(Get("?limit=0"))],
            ["GetClient"] = [await f.Clients.Get(Get(), "alice"), await f.Clients.Get(Get(), "bob"), await f.Clients.Get(Get(), "bad id")],
            ["CloseClient"] = [await f.Clients.Close(Get(), "bob"), await f.Clients.Close(Get(), "bad id"), await f.Clients.Close(Get(), "alice")],
            ["SendToClient"] =
            [
                await f.Messages.SendToClient(Post("1"), "alice"), await f.Messages.SendToClient(Post("1"), "bob"),
                await f.Messages.SendToClient(Post("not json"), "alice"), await f.Messages.SendToClient(Post(tooLarge), "alice"),
            ],
            ["SendToGroup"] =
            [
                await f.Messages.SendToGroup(Post("1"), "room"), await f.Messages.SendToGroup(Post("1"), "empty"),
                await f.Messages.SendToGroup(Post("not json"), "room"), await f.Messages.SendToGroup(Post(tooLarge), "room"),
            ],
            ["Broadcast"] = [await f.Messages.Broadcast(Post("1")), await f.Messages.Broadcast(Post("not json")), await f.Messages.Broadcast(Post(tooLarge))],
            ["ListDeadLetters"] = [await f.Upstream.List(Get()), await f.Upstream.List(Get("?limit=0"))],
            ["ReplayDeadLetter"] =
            [
                await f.Upstream.Replay(Post("{}"), deadId), await f.Upstream.Replay(Post("{}"), deadId), await f.Upstream.Replay(Post("{}"), "bad id"),
            ],
            ["GetOpenApiDocument"] = [OpenApiApi.Get(Get())],
        };

        var operations = Document()["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Where(op => op.Key != "parameters"))
            .ToDictionary(op => (string)op.Value!["operationId"]!, op => op.Value!["responses"]!.AsObject());
        Assert.Equal(operations.Keys.Order(StringComparer.Ordinal), answered.Keys.Order(StringComparer.Ordinal));
        foreach (var (operation, responses) in operations)
        {
            var documented = responses.Select(r => int.Parse(r.Key, System.Globalization.CultureInfo.InvariantCulture)).Except(HostAnswers).Order();
            var actual = answered[operation].Select(Status).Distinct().Order();
            Assert.True(documented.SequenceEqual(actual), $"{operation}: documented {string.Join(", ", documented)}, answered {string.Join(", ", actual)}");
        }
    }

    private static string Operation(string name, string method, string path, bool key) => $"{name} {method} {path}{(key ? " (key)" : string.Empty)}";

    private static int Status(IActionResult result) =>
        result is IStatusCodeActionResult { StatusCode: { } status } ? status : throw new InvalidOperationException($"{result.GetType().Name} has no status code.");

    private static HttpRequest Get(string query = "") => FunctionsHarness.Request("GET", query: query);

    private static HttpRequest Post(string body) => FunctionsHarness.Request("POST", body);

    private static JsonNode Document() => JsonNode.Parse(Assert.IsType<ContentResult>(OpenApiApi.Get(Get())).Content!)!;

    /// <summary>The functions.metadata the WsFunctions build wrote: what the host will serve.</summary>
    private static JsonObject[] BuiltFunctions()
    {
        var configuration = typeof(OpenApiContractTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "ServerlessWs.sln")))
        {
            dir = dir.Parent;
        }

        var path = Path.Combine(dir.FullName, "WsFunctions", "bin", configuration, "net10.0", "functions.metadata");
        return JsonNode.Parse(File.ReadAllText(path))!.AsArray().Select(f => f!.AsObject()).ToArray();
    }
}
