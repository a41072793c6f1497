using System.Net;

namespace ServerlessWs.Client;

/// <summary>
/// An admin API call answered with an error: the status and the RFC 9457 problem details the API sends with it
/// (<see cref="Type"/>, <see cref="Title"/>, <see cref="Detail"/>; null when the answer carried none, as the
/// Functions host's 401 does). Catch a subclass for the answers an application handles on their own.
/// </summary>
public class AdminApiException(HttpStatusCode status, string? type, string? title, string? detail)
    : Exception($"The admin API answered {(int)status}{(title is null ? string.Empty : " " + title)}{(detail is null ? string.Empty : ": " + detail)}")
{
    public HttpStatusCode Status { get; } = status;

    public string? Type { get; } = type;

    public string? Title { get; } = title;

    public string? Detail { get; } = detail;

    /// <summary>The exception for <paramref name="status"/>: a subclass for the statuses the API documents.</summary>
    public static AdminApiException For(HttpStatusCode status, string? type, string? title, string? detail) => status switch
    {
        HttpStatusCode.BadRequest => new AdminBadRequestException(type, title, detail),
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new AdminUnauthorizedException(status, type, title, detail),
        HttpStatusCode.NotFound => new AdminNotFoundException(type, title, detail),
        HttpStatusCode.RequestEntityTooLarge => new AdminPayloadTooLargeException(type, title, detail),
        HttpStatusCode.ServiceUnavailable => new AdminUnavailableException(type, title, detail),
        _ => new AdminApiException(status, type, title, detail),
    };
}

/// <summary>400: an id outside the id rule, a bad list query, or a body that is not one JSON value.</summary>
public sealed class AdminBadRequestException(string? type, string? title, string? detail)
    : AdminApiException(HttpStatusCode.BadRequest, type, title, detail);

/// <summary>401 or 403: no valid function key.</summary>
public sealed class AdminUnauthorizedException(HttpStatusCode status, string? type, string? title, string? detail)
    : AdminApiException(status, type, title, detail);

/// <summary>404: no such client, a client that is not connected (close), or a group with no members.</summary>
public sealed class AdminNotFoundException(string? type, string? title, string? detail)
    : AdminApiException(HttpStatusCode.NotFound, type, title, detail);

/// <summary>413: the data is over the service's <c>Ws:MaxMessageBytes</c>.</summary>
public sealed class AdminPayloadTooLargeException(string? type, string? title, string? detail)
    : AdminApiException(HttpStatusCode.RequestEntityTooLarge, type, title, detail);

/// <summary>503: the service cannot reach its store; retry later.</summary>
public sealed class AdminUnavailableException(string? type, string? title, string? detail)
    : AdminApiException(HttpStatusCode.ServiceUnavailable, type, title, detail);
