using Microsoft.AspNetCore.Http;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.App.Connections;

/// <summary>The validated query string of <c>GET /ws</c> (PROTOCOL.md §1, §5a).</summary>
internal sealed record ConnectRequest(string? ClientId, string? ResumeToken, long? LastSeq)
{
    // lastSeq is [0-9]{1,15}: small enough for a long, no sign, no spaces, no exponent.
    private const int MaxLastSeqDigits = 15;

    /// <summary>Parses the query; <paramref name="error"/> says why it is malformed (answered with 400).</summary>
    public static ConnectRequest? TryParse(IQueryCollection query, out string? error)
    {
        error = null;
        var clientId = Single(query, "clientId", ref error);
        var resumeToken = Single(query, "resumeToken", ref error);
        var lastSeqText = Single(query, "lastSeq", ref error);
        // Read by client authentication when it is on; given twice it is malformed like any other parameter.
        _ = Single(query, "access_token", ref error);
        if (error is not null)
        {
            return null;
        }

        if (clientId is not null && !Identifiers.IsValid(clientId))
        {
            error = "clientId must be 1-128 characters of [A-Za-z0-9._:-].";
            return null;
        }

        long? lastSeq = null;
        if (lastSeqText is not null)
        {
            if (lastSeqText.Length is 0 or > MaxLastSeqDigits || !lastSeqText.All(char.IsAsciiDigit))
            {
                error = "lastSeq must be a non-negative integer of at most 15 digits.";
                return null;
            }

            lastSeq = long.Parse(lastSeqText, System.Globalization.CultureInfo.InvariantCulture);
        }

        return new ConnectRequest(clientId, string.IsNullOrEmpty(resumeToken) ? null : resumeToken, lastSeq);
    }

    private static string? Single(IQueryCollection query, string name, ref string? error)
    {
        if (!query.TryGetValue(name, out var values))
        {
            return null;
        }

        if (values.Count != 1)
        {
            error ??= $"{name} may appear at most once.";
            return null;
        }

        return values[0] ?? string.Empty;
    }
}
