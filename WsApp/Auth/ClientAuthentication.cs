using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using ServerlessWs.App.Connections;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.App.Auth;

/// <summary>
/// Optional client authentication (PROTOCOL.md §1 <c>access_token</c>). The JWT bearer handler validates the token,
/// but it is not run as middleware: <see cref="WebSocketsManager"/> asks for it after the other checks, so a bad
/// token answers 401 in the contract's refusal order (503, 403, 429, 400, then 401) with problem+json.
/// </summary>
internal sealed class ClientAuthentication(IOptions<ClientAuthOptions> options)
{
    private const string QueryParameter = "access_token";

    private readonly ClientAuthOptions _options = options.Value;

    public static void AddTo(WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ClientAuthOptions.SectionName);
        builder.Services.AddOptions<ClientAuthOptions>()
            .Bind(section)
            .Validate(o => !o.Enabled || !string.IsNullOrEmpty(o.Jwt.Audience), "Auth:Jwt:Audience is required when client authentication is on.")
            .Validate(o => string.IsNullOrEmpty(o.Jwt.SigningKey) || KeyBytes(o.Jwt.SigningKey) is { Length: >= 32 }, "Auth:Jwt:SigningKey must be base64 of at least 32 bytes.")
            .ValidateOnStart();
        builder.Services.AddSingleton<ClientAuthentication>();

        var settings = section.Get<ClientAuthOptions>() ?? new ClientAuthOptions();
        if (!settings.Enabled)
        {
            return;
        }

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
    /// The request as authentication leaves it (with the subject as <c>clientId</c> when bound and absent), or null
    /// with the reason for a 401. With authentication off the request passes unchanged.
    /// </summary>
    public async Task<(ConnectRequest? Request, string? Refusal)> AuthenticateAsync(HttpContext http, ConnectRequest request)
    {
        if (!_options.Enabled)
        {
            return (request, null);
        }

        var result = await http.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
        if (!result.Succeeded)
        {
            return (null, "A valid access_token is required.");
        }

        if (!_options.BindClientIdToSubject)
        {
            return (request, null);
        }

        var subject = result.Principal.FindFirstValue("sub");
        if (subject is null || !Identifiers.IsValid(subject))
        {
            return (null, "The access_token's subject cannot be used as a clientId.");
        }

        if (request.ClientId is not null && !string.Equals(request.ClientId, subject, StringComparison.Ordinal))
        {
            return (null, "This access_token is not for this clientId.");
        }

        return (request with { ClientId = subject }, null);
    }

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
