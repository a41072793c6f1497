using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace ServerlessWs.Functions.Admin;

/// <summary>RFC 9457 problem details, the body of every admin API error.</summary>
internal static class Problems
{
    public static ObjectResult Of(int status, string title, string? detail = null) =>
        new(new ProblemDetails { Status = status, Title = title, Detail = detail })
        {
            StatusCode = status,
            ContentTypes = { "application/problem+json" },
        };

    public static ObjectResult BadRequest(string detail) => Of(StatusCodes.Status400BadRequest, "Bad request", detail);

    public static ObjectResult NotFound(string detail) => Of(StatusCodes.Status404NotFound, "Not found", detail);

    /// <summary>A route value or query value that is not a valid client id, group or server id.</summary>
    public static ObjectResult InvalidId(string name) => BadRequest($"{name} must be 1-128 characters of [A-Za-z0-9._:-].");
}
