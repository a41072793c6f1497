using System.ComponentModel.DataAnnotations;

namespace ServerlessWs.Core.Upstream;

/// <summary>
/// The <c>Upstream</c> configuration section (docs/protocol.md §7): the application's handler that hears its clients.
/// It is set by the operator, never by a client. Checked at start-up; a bad value stops the host with a message that
/// names the key.
/// </summary>
public sealed class UpstreamOptions : IValidatableObject
{
    public const string SectionName = "Upstream";

    /// <summary>The smallest signing key, in characters: an HMAC-SHA256 key shorter than its hash is weaker than it.</summary>
    public const int MinSigningKeyLength = 32;

    /// <summary>The handler's absolute http(s) URL; empty means no handler: <c>invoke</c> and <c>event</c> answer <c>not-configured</c>.</summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>
    /// Keys every request is signed with (HMAC-SHA256, one signature per key), each at least
    /// <see cref="MinSigningKeyLength"/> characters. Several at once let a handler move from one key to the next.
    /// </summary>
    public IList<string> SigningKeys { get; } = [];

    /// <summary>How long an <c>invoke</c> may wait for the handler (including for a free call slot) before <c>upstream-timeout</c>.</summary>
    [Range(1, 300, ErrorMessage = "Upstream:TimeoutSeconds must be between 1 and 300.")]
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>Handler calls one node has in flight at once; an <c>invoke</c> beyond it waits for a slot (within its timeout).</summary>
    [Range(1, 100_000, ErrorMessage = "Upstream:MaxInFlight must be between 1 and 100000.")]
    public int MaxInFlight { get; set; } = 256;

    /// <summary>Invokes one connection may have waiting for the handler at once; more get <c>rate-limited</c>.</summary>
    [Range(1, 10_000, ErrorMessage = "Upstream:MaxInFlightPerConnection must be between 1 and 10000.")]
    public int MaxInFlightPerConnection { get; set; } = 16;

    public bool IsConfigured => Url.Length > 0;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsConfigured)
        {
            yield break;
        }

        if (!Uri.TryCreate(Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            yield return new ValidationResult("Upstream:Url must be an absolute http or https URL.", [nameof(Url)]);
        }

        if (SigningKeys.Count == 0)
        {
            yield return new ValidationResult("Upstream:SigningKeys needs at least one key when Upstream:Url is set: the handler must be able to tell the requests are ours.", [nameof(SigningKeys)]);
        }

        if (SigningKeys.Any(k => k.Length < MinSigningKeyLength))
        {
            yield return new ValidationResult($"Upstream:SigningKeys: every key must be at least {MinSigningKeyLength} characters.", [nameof(SigningKeys)]);
        }
    }
}
