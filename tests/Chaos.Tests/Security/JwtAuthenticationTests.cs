using System.Security.Claims;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ServerlessWs.App.Tests.Infrastructure;
using ServerlessWs.Chaos.Tests.Reporting;

namespace ServerlessWs.Chaos.Tests.Security;

/// <summary>
/// Scenario 6, optional client authentication (docs/protocol.md §1 <c>access_token</c>): off by default; when configured,
/// a missing or invalid bearer token is 401 after the other refusals, and a bound subject must be the clientId.
/// </summary>
public sealed class JwtAuthenticationTests
{
    private const string Audience = "api://serverlessws-tests";
    private const string Issuer = "https://issuer.test";
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] OtherKey = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public async Task WithoutConfigurationAnAccessTokenIsIgnored()
    {
        await using var node = await WsNode.StartAsync();

        Assert.Equal(101, await TestClient.ConnectStatusAsync(node, "access_token=not-a-token"));
        Assert.Equal(101, await TestClient.ConnectStatusAsync(node));
    }

    [Fact]
    public async Task OnlyAValidTokenForThisAudienceConnects()
    {
        var logs = new CapturingLoggerProvider();
        await using var node = await StartAsync(bind: false, logs);
        var tally = new Tally();
        (string What, string Query, int Status)[] cases =
        [
            ("valid", $"access_token={Token("alice")}", 101),
            ("valid, with another clientId (not bound)", $"clientId=bob-{Guid.NewGuid():N}&access_token={Token("alice")}", 101),
            ("missing", string.Empty, 401),
            ("empty", "access_token=", 401),
            ("garbage", "access_token=abc.def.ghi", 401),
            ("expired an hour ago", $"access_token={Token("alice", expires: DateTime.UtcNow.AddHours(-1))}", 401),
            ("signed with another key", $"access_token={Token("alice", key: OtherKey)}", 401),
            ("for another audience", $"access_token={Token("alice", audience: "api://someone-else")}", 401),
            ("from another issuer", $"access_token={Token("alice", issuer: "https://evil.test")}", 401),
            ("unsigned", $"access_token={Unsigned("alice")}", 401),
            ("given twice (malformed, as any parameter given twice)", $"access_token={Token("alice")}&access_token={Token("alice")}", 400),
            ("in an Authorization header instead", string.Empty, 101),
            ("valid token, malformed lastSeq: 400 comes first", $"lastSeq=-1&access_token={Token("alice")}", 400),
            ("no token, malformed clientId: 400 comes first", "clientId=a%20b", 400),
        ];

        foreach (var (what, query, status) in cases)
        {
            var (actual, contentType) = what.StartsWith("in an Authorization header", StringComparison.Ordinal)
                ? (await HeaderOnlyAsync(node), "none")
                : await ConnectAttempt.RunAsync(node, query);
            tally.Check(what, status, actual);
            if (status == 401)
            {
                tally.Check(what + " body", "application/problem+json", contentType);
            }
        }

        // No token, valid or not, reaches a log at any level (the hosting diagnostics would log the query string).
        Assert.Contains(logs.Entries, e => e.StartsWith("Debug", StringComparison.Ordinal));
        foreach (var (what, query, _) in cases.Where(c => c.Query.Contains("access_token=", StringComparison.Ordinal)))
        {
            var token = query[(query.IndexOf("access_token=", StringComparison.Ordinal) + 13)..].Split('&')[0];
            tally.Check($"logs of the {what} token", 0, token.Length == 0 ? 0 : logs.Entries.Count(e => e.Contains(token, StringComparison.Ordinal)));
        }

        tally.Record("6e. security: JWT access_token", "valid, missing, expired, wrong key, audience or issuer, unsigned; 400 before 401");
        tally.AssertAllDocumented();
    }

    [Fact]
    public async Task ABoundSubjectMustBeTheClientIdAndNamesTheClientWhenNoneIsGiven()
    {
        await using var node = await StartAsync(bind: true);
        var alice = "alice-" + Guid.NewGuid().ToString("N");
        var tally = new Tally();

        await using (var named = await TestClient.ConnectAsync(node, $"access_token={Token(alice)}"))
        {
            tally.Check("no clientId: the subject is the id", alice, named.ClientId);
            tally.Check("the same id from another token subject", 401, (await ConnectAttempt.RunAsync(node, $"clientId={alice}&access_token={Token("mallory")}")).Status);
            tally.Check("the subject's own token, without the resumeToken, for a connected id", 401, (await ConnectAttempt.RunAsync(node, $"clientId={alice}&access_token={Token(alice)}")).Status);
            await using var resumed = await TestClient.ConnectAsync(node, $"clientId={alice}&resumeToken={named.ResumeToken}&access_token={Token(alice)}");
            tally.Check("resume with token and matching subject", true, resumed.Welcome.GetProperty("resumed").GetBoolean());
        }

        tally.Check("clientId equal to the subject", 101, (await ConnectAttempt.RunAsync(node, $"clientId=carol-1&access_token={Token("carol-1")}")).Status);
        tally.Check("clientId differing only in case", 401, (await ConnectAttempt.RunAsync(node, $"clientId=Carol-2&access_token={Token("carol-2")}")).Status);
        tally.Check("subject that is not a valid clientId", 401, (await ConnectAttempt.RunAsync(node, $"access_token={Token("carol smith")}")).Status);
        tally.Check("token without a subject", 401, (await ConnectAttempt.RunAsync(node, $"access_token={Token(null)}")).Status);
        // The admin API's sender is reserved: a token whose subject names it must not let its holder speak as it.
        tally.Check("subject that is the reserved admin id", 401, (await ConnectAttempt.RunAsync(node, $"access_token={Token("admin")}")).Status);
        tally.Check("subject that is the reserved admin id, in another case", 401, (await ConnectAttempt.RunAsync(node, $"access_token={Token("Admin")}")).Status);
        tally.Check("clientId admin with the admin subject", 400, (await ConnectAttempt.RunAsync(node, $"clientId=admin&access_token={Token("admin")}")).Status);

        tally.Record("6f. security: JWT subject bound to clientId", "subject names the id; another subject, case variant, invalid or reserved (admin) subject is 401");
        tally.AssertAllDocumented();
    }

    [Fact]
    public async Task AnAuthorityThatCannotBeReachedRefusesTokensAndFailsNothingElse()
    {
        // Raised in review: the framework makes a lone scheme the default and validates tokens in middleware of its own,
        // before the other refusals; an authority that cannot be reached must not turn into a 500 there or anywhere.
        await using var node = await WsNode.StartAsync(Settings.Of(
            ("Auth:Jwt:Authority", $"https://127.0.0.1:{ServerlessWs.Tests.Infrastructure.RedisServer.FreePort()}/tenant"),
            ("Auth:Jwt:Audience", Audience)));
        using var http = new HttpClient { BaseAddress = node.BaseUri };

        Assert.Equal(401, await TestClient.ConnectStatusAsync(node, $"access_token={Token("alice")}"));
        Assert.Equal(401, await TestClient.ConnectStatusAsync(node));
        using var health = await http.GetAsync(new Uri($"/healthz?access_token={Token("alice")}", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
    }

    private static Task<WsNode> StartAsync(bool bind, CapturingLoggerProvider? logs = null) =>
        WsNode.StartAsync(
            Settings.Of(
                ("Auth:Jwt:SigningKey", Convert.ToBase64String(Key)),
                ("Auth:Jwt:Audience", Audience),
                ("Auth:Jwt:Issuer", Issuer),
                ("Auth:BindClientIdToSubject", bind),
                ("Logging:LogLevel:Default", "Trace"),
                ("Logging:LogLevel:Microsoft", "Trace"),
                ("Logging:LogLevel:Microsoft.AspNetCore", "Trace")),
            services: logs is null ? null : s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)));

    private static string Token(string? subject, DateTime? expires = null, byte[]? key = null, string audience = Audience, string issuer = Issuer)
    {
        var end = expires ?? DateTime.UtcNow.AddMinutes(10);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(subject is null ? [new Claim("name", "nobody")] : [new Claim("sub", subject)]),
            Audience = audience,
            Issuer = issuer,
            IssuedAt = end.AddMinutes(-20),
            NotBefore = end.AddMinutes(-20),
            Expires = end,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key ?? Key), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A token with <c>alg: none</c> and no signature, claiming everything a valid one does.</summary>
    private static string Unsigned(string subject)
    {
        var signed = Token(subject).Split('.');
        var header = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""");
        return $"{header}.{signed[1]}.";
    }

    /// <summary>Clients that can set headers may send the token the standard way, as <c>Authorization: Bearer</c>.</summary>
    private static async Task<int> HeaderOnlyAsync(WsNode node) =>
        await TestClient.ConnectStatusAsync(node, options: o => o.SetRequestHeader("Authorization", "Bearer " + Token("alice")));

}
