using System.ComponentModel.DataAnnotations;

namespace ServerlessWs.Samples.ChatHandler;

/// <summary>The <c>Handler</c> section: the keys WsApp signs its calls with, and how large a call may be.</summary>
public sealed class HandlerOptions : IValidatableObject
{
    public const string SectionName = "Handler";

    /// <summary>Every key a call may be signed with (WsApp's <c>Upstream:SigningKeys</c>; two while rotating).</summary>
    public IList<string> SigningKeys { get; } = [];

    /// <summary>The largest body read, in bytes: WsApp sends at most its <c>Ws:MaxMessageBytes</c> (65536 by default).</summary>
    [Range(1, 16 * 1024 * 1024, ErrorMessage = "Handler:MaxBodyBytes must be between 1 and 16777216.")]
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SigningKeys.Count == 0 || SigningKeys.Any(string.IsNullOrEmpty))
        {
            yield return new ValidationResult("Handler:SigningKeys needs at least one key (WsApp's Upstream:SigningKeys), and no empty one.", [nameof(SigningKeys)]);
        }
    }
}
