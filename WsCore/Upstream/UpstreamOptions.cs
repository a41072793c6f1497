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

    /// <summary>
    /// Streams the durable events are spread over, by a stable hash of the client id (one client's events in one
    /// stream, in order). Fixed for a deployment's life: changing it while events wait would split a client's order.
    /// </summary>
    [Range(1, 1024, ErrorMessage = "Upstream:Partitions must be between 1 and 1024.")]
    public int Partitions { get; set; } = 8;

    /// <summary>Events one partition may hold not yet delivered; an <c>event</c> beyond it is refused <c>upstream-busy</c>, never trimmed.</summary>
    [Range(1, 10_000_000, ErrorMessage = "Upstream:StreamMaxLength must be between 1 and 10000000.")]
    public int StreamMaxLength { get; set; } = 100_000;

    /// <summary>Dead letters kept; past it the oldest are trimmed (each was logged when parked).</summary>
    [Range(1, 10_000_000, ErrorMessage = "Upstream:DeadLetterMaxLength must be between 1 and 10000000.")]
    public int DeadLetterMaxLength { get; set; } = 10_000;

    /// <summary>Calls the dispatcher makes for one event (the first included) before it parks it as a dead letter.</summary>
    [Range(1, 100, ErrorMessage = "Upstream:MaxAttempts must be between 1 and 100.")]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The wait before the second attempt; each later wait doubles, up to <see cref="RetryMaxMilliseconds"/>, with jitter.</summary>
    [Range(1, 600_000, ErrorMessage = "Upstream:RetryBaseMilliseconds must be between 1 and 600000.")]
    public int RetryBaseMilliseconds { get; set; } = 500;

    /// <summary>The longest wait between two attempts.</summary>
    [Range(1, 3_600_000, ErrorMessage = "Upstream:RetryMaxMilliseconds must be between 1 and 3600000.")]
    public int RetryMaxMilliseconds { get; set; } = 30_000;

    /// <summary>Clients whose events one dispatcher calls the handler for at once (each client's own events one at a time).</summary>
    [Range(1, 10_000, ErrorMessage = "Upstream:DispatchConcurrency must be between 1 and 10000.")]
    public int DispatchConcurrency { get; set; } = 64;

    /// <summary>Entries a dispatcher reads from a partition at once.</summary>
    [Range(1, 10_000, ErrorMessage = "Upstream:BatchSize must be between 1 and 10000.")]
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// How long a dispatcher's hold on a partition lasts unless renewed (every third of it): another dispatcher takes
    /// the partition over this long after its holder died.
    /// </summary>
    [Range(1, 300, ErrorMessage = "Upstream:LeaseSeconds must be between 1 and 300.")]
    public int LeaseSeconds { get; set; } = 10;

    /// <summary>How long a dispatcher waits before it reads a partition again when it found nothing new.</summary>
    [Range(1, 60_000, ErrorMessage = "Upstream:PollMilliseconds must be between 1 and 60000.")]
    public int PollMilliseconds { get; set; } = 50;

    /// <summary>
    /// The lifecycle events sent to the handler: any of <c>connected</c>, <c>disconnected</c>, <c>takeover</c>.
    /// None by default: a handler hears only what its clients send unless the operator asks for more.
    /// </summary>
    public IList<string> LifecycleEvents { get; } = [];

    /// <summary>The lifecycle events there are (<see cref="LifecycleEvents"/>).</summary>
    public static IReadOnlyList<string> KnownLifecycleEvents { get; } = ["connected", "disconnected", "takeover"];

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

        if (LifecycleEvents.FirstOrDefault(e => !KnownLifecycleEvents.Contains(e)) is { } unknown)
        {
            yield return new ValidationResult($"Upstream:LifecycleEvents: '{unknown}' is not one of {string.Join(", ", KnownLifecycleEvents)}.", [nameof(LifecycleEvents)]);
        }

        if (RetryMaxMilliseconds < RetryBaseMilliseconds)
        {
            yield return new ValidationResult("Upstream:RetryMaxMilliseconds must be at least Upstream:RetryBaseMilliseconds.", [nameof(RetryMaxMilliseconds)]);
        }
    }
}
