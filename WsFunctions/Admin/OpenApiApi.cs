using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ServerlessWs.Functions.Admin;

/// <summary>
/// The admin API's OpenAPI 3 document, <c>GET /api/openapi.json</c>, anonymous so that tools can read it without a
/// key. Written by hand (Admin/openapi.json, embedded): the Functions OpenAPI extension is not available here. A test
/// holds it to functions.metadata and to the status codes the handlers answer.
/// </summary>
public static class OpenApiApi
{
    private static readonly Lazy<string> Document = new(() =>
    {
        using var stream = typeof(OpenApiApi).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The {ResourceName} resource is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public const string ResourceName = "ServerlessWs.Functions.Admin.openapi.json";

    [Function("GetOpenApiDocument")]
    public static IActionResult Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequest request) =>
        new ContentResult { Content = Document.Value, ContentType = "application/json", StatusCode = StatusCodes.Status200OK };
}
