using Microsoft.AspNetCore.Http;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.App.Admission;

/// <summary>The validated query string of <c>GET /ws</c> (docs/protocol.md §1, §5a, §5b).</summary>
/// <param name="Since">The group positions a resume names (<c>since=&lt;group&gt;:&lt;gseq&gt;</c>), by group.</param>
internal sealed record ConnectRequest(string? ClientId, string? ResumeToken, long? LastSeq, IReadOnlyDictionary<string, long>? Since = null)
{
    /// <summary>The access token's subject when client authentication is on: the <c>ce-userid</c> the handler hears (docs/protocol.md §7).</summary>
    public string? UserId { get; init; }

    // lastSeq and a since's gseq are [0-9]{1,15}: small enough for a long, no sign, no spaces, no exponent.
    private const int MaxLastSeqDigits = 15;

    /// <summary>
    /// How many <c>since</c> a connect may carry: one per group a session may have (<see cref="WsOptions.MaxGroupsPerClient"/>)
    /// plus the broadcast group. More is malformed, so the query's cost stays bounded.
    /// </summary>
    public static int MaxSince(WsOptions options) => options.MaxGroupsPerClient + 1;

    /// <summary>Parses the query; <paramref name="error"/> says why it is malformed (answered with 400).</summary>
    public static ConnectRequest? TryParse(IQueryCollection query, WsOptions options, out string? error)
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

        if (clientId is not null && Identifiers.IsReserved(clientId))
        {
            error = $"clientId '{clientId}' is reserved.";
            return null;
        }

        long? lastSeq = null;
        if (lastSeqText is not null)
        {
            if (ParsePosition(lastSeqText) is not { } parsed)
            {
                error = "lastSeq must be a non-negative integer of at most 15 digits.";
                return null;
            }

            lastSeq = parsed;
        }

        var since = ParseSince(query, options, ref error);
        if (error is not null)
        {
            return null;
        }

        return new ConnectRequest(clientId, string.IsNullOrEmpty(resumeToken) ? null : resumeToken, lastSeq, since);
    }

    /// <summary>
    /// <c>since=&lt;group&gt;:&lt;gseq&gt;</c>, the one parameter that may repeat: split at the last <c>:</c> (group
    /// names may hold colons), a group (or <c>*</c>) at most once, a gseq like <c>lastSeq</c>.
    /// </summary>
    private static Dictionary<string, long>? ParseSince(IQueryCollection query, WsOptions options, ref string? error)
    {
        if (!query.TryGetValue("since", out var values))
        {
            return null;
        }

        if (values.Count > MaxSince(options))
        {
            error = $"since may appear at most {MaxSince(options)} times.";
            return null;
        }

        var since = new Dictionary<string, long>(values.Count, StringComparer.Ordinal);
        foreach (var value in values)
        {
            var colon = value?.LastIndexOf(':') ?? -1;
            if (colon <= 0
                || !Groups.IsNameOrBroadcast(value.AsSpan(0, colon))
                || ParsePosition(value.AsSpan(colon + 1)) is not { } gseq)
            {
                error = "since must be <group>:<gseq>, a group of 1-128 characters of [A-Za-z0-9._:-] (or *) and a non-negative integer of at most 15 digits.";
                return null;
            }

            if (!since.TryAdd(value![..colon], gseq))
            {
                error = "since may name each group once.";
                return null;
            }
        }

        return since;
    }

    private static long? ParsePosition(ReadOnlySpan<char> text)
    {
        if (text.Length is 0 or > MaxLastSeqDigits)
        {
            return null;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return null;
            }
        }

        return long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
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
