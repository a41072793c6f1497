namespace ServerlessWs.App.Auth;

/// <summary>
/// The <c>Auth</c> configuration section: optional client authentication with JWT bearer tokens, off unless
/// <c>Auth:Jwt:Authority</c> or <c>Auth:Jwt:SigningKey</c> is set.
/// </summary>
public sealed class ClientAuthOptions
{
    public const string SectionName = "Auth";

    public JwtOptions Jwt { get; } = new();

    /// <summary>When on, a token's <c>sub</c> must equal <c>clientId</c>; a connect without <c>clientId</c> gets the subject as its id.</summary>
    public bool BindClientIdToSubject { get; set; }

    public bool Enabled => !string.IsNullOrEmpty(Jwt.Authority) || !string.IsNullOrEmpty(Jwt.SigningKey);

    public sealed class JwtOptions
    {
        /// <summary>The token issuer's OpenID Connect authority (Entra ID: <c>https://login.microsoftonline.com/{tenant}/v2.0</c>); signing keys come from its metadata.</summary>
        public string? Authority { get; set; }

        /// <summary>The audience a token must name (the app registration's client id or application id URI). Required when authentication is on.</summary>
        public string? Audience { get; set; }

        /// <summary>The issuer a token must name; empty takes the authority's. With a signing key and no issuer, any issuer is accepted.</summary>
        public string? Issuer { get; set; }

        /// <summary>A base64 HMAC-SHA256 key of at least 32 bytes, for development and tests in place of an authority.</summary>
        public string? SigningKey { get; set; }
    }
}
