using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Tests.Sessions;

public sealed class ResumeTokensTests
{
    [Fact]
    public void ATokenCarries256RandomBitsInUrlSafeText()
    {
        var tokens = Enumerable.Range(0, 1000).Select(_ => ResumeTokens.Create()).ToList();

        Assert.All(tokens, t => Assert.Matches("^[A-Za-z0-9_-]{43}$", t));
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    [Fact]
    public void OnlyTheTokenItselfMatchesItsHash()
    {
        var token = ResumeTokens.Create();
        var hash = ResumeTokens.Hash(token);

        Assert.True(ResumeTokens.Matches(token, hash));
        Assert.False(ResumeTokens.Matches(token[..^1], hash));
        Assert.False(ResumeTokens.Matches(ResumeTokens.Create(), hash));
        Assert.False(ResumeTokens.Matches(null, hash));
        Assert.DoesNotContain(token, Convert.ToBase64String(hash), StringComparison.Ordinal);
    }
}
