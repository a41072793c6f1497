using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ServerlessWs.Client;

/// <summary>Why a handler call was not accepted.</summary>
public enum UpstreamVerification
{
    /// <summary>Signed by one of the keys, with every attribute the contract requires.</summary>
    Verified,

    /// <summary>No <see cref="UpstreamSignature.HeaderName"/> entry matches the signed headers and body under any key (or there is no <c>ce-id</c>): answer 401.</summary>
    BadSignature,

    /// <summary>Signed, but sent longer ago (or further ahead) than the verifier's tolerance: a replayed call; answer 401.</summary>
    Stale,

    /// <summary>Signed, but an attribute the contract requires is missing or malformed: answer 400.</summary>
    BadAttributes,
}

/// <summary>The outcome of <see cref="UpstreamVerifier.Verify"/>, and the call's attributes when it is verified.</summary>
public sealed record UpstreamVerificationResult(UpstreamVerification Outcome, UpstreamEvent? Event)
{
    [MemberNotNullWhen(true, nameof(Event))]
    public bool IsVerified => Outcome == UpstreamVerification.Verified && Event is not null;
}

/// <summary>
/// Checks a request to the application's handler (docs/protocol.md §7): its <see cref="UpstreamSignature"/> against
/// one or more keys (several while a key is rotated: add the new one, move the service to it, drop the old one), then
/// reads its CloudEvents 1.0 binary-mode attributes. Needs no web framework: it takes a header lookup and the body.
/// </summary>
public sealed class UpstreamVerifier
{
    /// <summary>How far a call's signed send time may be from this clock by default: room for clock skew and retries in flight.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    private readonly string[] _keys;
    private readonly TimeProvider _time;
    private readonly TimeSpan _tolerance;

    /// <param name="signingKeys">The keys shared with the service (<c>Upstream:SigningKeys</c>); at least one, none empty.</param>
    /// <param name="time">The clock the send time is checked against (the system's by default).</param>
    /// <param name="tolerance">How far the send time may be from <paramref name="time"/> (<see cref="DefaultTolerance"/> by default).</param>
    public UpstreamVerifier(IEnumerable<string> signingKeys, TimeProvider? time = null, TimeSpan? tolerance = null)
    {
        ArgumentNullException.ThrowIfNull(signingKeys);
        _time = time ?? TimeProvider.System;
        _tolerance = tolerance ?? DefaultTolerance;
        _keys = [.. signingKeys];
        if (_keys.Length == 0 || _keys.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("At least one signing key, and no empty one, is needed to verify handler calls.", nameof(signingKeys));
        }
    }

    /// <summary>
    /// Verifies the call and reads its attributes. <paramref name="header"/> answers a header's value by its name (any
    /// letter case, as HTTP headers are), or null when it is absent; <paramref name="body"/> is the whole request body.
    /// </summary>
    public UpstreamVerificationResult Verify(Func<string, string?> header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (header("ce-id") is not { Length: > 0 } id || !UpstreamSignature.Verify(_keys, header, body))
        {
            return new(UpstreamVerification.BadSignature, null);
        }

        if (!long.TryParse(header(UpstreamSignature.TimestampHeader), NumberStyles.None, CultureInfo.InvariantCulture, out var sentAt)
            || (DateTimeOffset.FromUnixTimeSeconds(Math.Min(sentAt, 253_402_300_799)) - _time.GetUtcNow()).Duration() > _tolerance)
        {
            return new(UpstreamVerification.Stale, null);
        }

        if (header("ce-specversion") != "1.0"
            || header("ce-type") is not { Length: > 0 } type
            || header("ce-source") is not { Length: > 0 } source
            || header("ce-clientid") is not { Length: > 0 } clientId
            || header("ce-serverid") is not { Length: > 0 } serverId
            || !DateTimeOffset.TryParse(header("ce-time"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time))
        {
            return new(UpstreamVerification.BadAttributes, null);
        }

        // ce-userid is percent-encoded UTF-8, as the CloudEvents HTTP binding writes a string attribute (a token's
        // subject may hold anything); a sequence that is not valid stays as sent.
        var userId = header("ce-userid") is { Length: > 0 } encoded ? Uri.UnescapeDataString(encoded) : null;
        return new(UpstreamVerification.Verified, new UpstreamEvent(id, type, source, time, clientId, serverId, userId));
    }
}
