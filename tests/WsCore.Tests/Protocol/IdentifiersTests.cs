using ServerlessWs.Core.Protocol;

namespace ServerlessWs.Core.Tests.Protocol;

public sealed class IdentifiersTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("Az09._:-")]
    [InlineData("3f2504e0-4f89-11d3-9a0c-0305e82c3301")]
    public void AllowedIdsAreValid(string id) => Assert.True(Identifiers.IsValid(id));

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("a b")]
    [InlineData("a/b")]
    [InlineData("{tag}")]
    [InlineData("é")]
    [InlineData("a\n")]
    public void OtherCharactersAreNot(string id) => Assert.False(Identifiers.IsValid(id));

    [Fact]
    public void TheLimitIs128Characters()
    {
        Assert.True(Identifiers.IsValid(new string('a', 128)));
        Assert.False(Identifiers.IsValid(new string('a', 129)));
    }

    [Fact]
    public void AGeneratedIdIsALowercaseUuidAndValid()
    {
        var id = Identifiers.NewClientId();

        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id);
        Assert.True(Identifiers.IsValid(id));
        Assert.NotEqual(id, Identifiers.NewClientId());
    }
}
