using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using ServerlessWs.Core.Hosting;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.App.Auth;

/// <summary>
/// Optional client authentication (docs/protocol.md §1 <c>access_token</c>). The JWT bearer handler validates the token,
/// but it is not run as middleware: the connect's admission asks for it after the other checks, so a bad
/// token answers 401 in the contract's refusal order (503, 403, 429, 400, then 401) with problem+json.
/// </summary>
internal sealed partial class ClientAuthentication(IOptions<ClientAuthOptions> options, ILogger<ClientAuthentication> logger)
{
    // WebApplication adds the authentication middleware by itself once a scheme is registered, and makes a lone scheme
    // the default, which would validate every token before the draining, origin and rate checks (and fail the request
    // with a 500 when the authority cannot be reached). Without a default scheme that middleware does nothing.
    private const string SuppressAutoDefaultScheme = "Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme";

    private const string QueryParameter = "access_token";

    private readonly ClientAuthOptions _options = options.Value;

    public static void AddTo(WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ClientAuthOptions.SectionName);
        builder.Services.AddValidatedOptions<ClientAuthOptions>(builder.Configuration, ClientAuthOptions.SectionName)
            .Validate(o => !o.Enabled || !string.IsNullOrEmpty(o.Jwt.Audience), "Auth:Jwt:Audience is required when client authentication is on.")
            .Validate(o => string.IsNullOrEmpty(o.Jwt.SigningKey) || KeyBytes(o.Jwt.SigningKey) is { Length: >= 32 }, "Auth:Jwt:SigningKey must be base64 of at least 32 bytes.");
        builder.Services.AddSingleton<ClientAuthentication>();

        var settings = section.Get<ClientAuthOptions>() ?? new ClientAuthOptions();
        if (!settings.Enabled)
        {
            return;
        }

        AppContext.SetSwitch(SuppressAutoDefaultScheme, true);
        builder.Services.AddAuthentication().AddJwtBearer(jwt =>
        {
            var o = settings.Jwt;
            jwt.Authority = string.IsNullOrEmpty(o.Authority) ? null : o.Authority;
            jwt.Audience = o.Audience;
            // Keep "sub" as "sub" rather than the long WS-Federation claim type.
            jwt.MapInboundClaims = false;
            jwt.TokenValidationParameters.ValidAudience = o.Audience;
            if (!string.IsNullOrEmpty(o.Issuer))
            {
                jwt.TokenValidationParameters.ValidIssuer = o.Issuer;
            }
            else if (jwt.Authority is null)
            {
                jwt.TokenValidationParameters.ValidateIssuer = false;
            }

            if (!string.IsNullOrEmpty(o.SigningKey))
            {
                jwt.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(KeyBytes(o.SigningKey));
            }

            // Browsers cannot set headers on a WebSocket, so /ws takes the token from the query string.
            jwt.Events = new JwtBearerEvents
            {
                OnMessageReceived = context =>
                {
                    if (context.Request.Path.StartsWithSegments("/ws"))
                    {
                        context.Token = context.Request.Query[QueryParameter].ToString();
                    }

                    return Task.CompletedTask;
                },
            };
        });
    }

    /// <summary>
    /// The connect's identity as authentication leaves it (with the subject as <c>clientId</c> when bound and
    /// <paramref name="clientId"/> is absent), or null with the status and reason of the refusal: 401 for a token that
    /// is missing or not good, 503 when the token cannot be checked now (the authority's keys cannot be fetched). With
    /// authentication off the connect passes as it came, with no user.
    /// </summary>
    public async Task<(ClientIdentity? Identity, int Status, string? Refusal)> AuthenticateAsync(HttpContext http, string? clientId)
    {
        var identity = new ClientIdentity(clientId, UserId: null);
        if (!_options.Enabled)
        {
            return (identity, 0, null);
        }

        AuthenticateResult result;
        try
        {
            result = await http.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Unavailable(logger, e);
            return (null, StatusCodes.Status503ServiceUnavailable, "Client authentication cannot be checked now; retry later.");
        }

        if (!result.Succeeded)
        {
            return Refuse("A valid access_token is required.");
        }

        var subject = result.Principal.FindFirstValue("sub");
        identity = identity with { UserId = subject };
        if (!_options.BindClientIdToSubject)
        {
            return (identity, 0, null);
        }

        // A subject that names an id the system uses (admin) would let its holder speak as the admin API.
        if (subject is null || !Identifiers.IsValid(subject) || Identifiers.IsReserved(subject))
        {
            return Refuse("The access_token's subject cannot be used as a clientId.");
        }

        if (identity.ClientId is not null && !string.Equals(identity.ClientId, subject, StringComparison.Ordinal))
        {
            return Refuse("This access_token is not for this clientId.");
        }

        return (identity with { ClientId = subject }, 0, null);
    }

    private static (ClientIdentity? Identity, int Status, string? Refusal) Refuse(string reason) =>
        (null, StatusCodes.Status401Unauthorized, reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client authentication could not check a token (its authority or keys are unreachable)")]
    private static partial void Unavailable(ILogger logger, Exception exception);

    private static byte[] KeyBytes(string base64)
    {
        try
        {
            return Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return [];
        }
    }
}

/// <summary>Who a connect is once authenticated: the <c>clientId</c> it claims and the token's subject, if any.</summary>
internal sealed record ClientIdentity(string? ClientId, string? UserId);
