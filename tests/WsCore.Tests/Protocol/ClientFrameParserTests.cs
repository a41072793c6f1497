using System.Text;
using ServerlessWs.Core.Protocol;

namespace ServerlessWs.Core.Tests.Protocol;

public sealed class ClientFrameParserTests
{
    [Fact]
    public void ASendKeepsDataAndIdAsTheirRawJson()
    {
        var result = Parse("""{"type":"send","to":"bob","data":{"a":[1, 2.50]},"id":"x-1"}""");

        var frame = Assert.IsType<ClientFrame>(result.Frame);
        Assert.Equal(ClientFrameType.Send, frame.Type);
        Assert.Equal("bob", frame.To);
        Assert.Null(frame.Group);
        Assert.Equal("""{"a":[1, 2.50]}""", Encoding.UTF8.GetString(frame.Data.Span));
        Assert.Equal("\"x-1\"", Encoding.UTF8.GetString(frame.Id.Span));
    }

    [Fact]
    public void AGroupSendNamesTheGroupAndNoRecipient()
    {
        var frame = Parse("""{"type":"send","group":"room.1","data":null}""").Frame!;

        Assert.Equal(("room.1", (string?)null, "null"), (frame.Group, frame.To, Encoding.UTF8.GetString(frame.Data.Span)));
        Assert.True(frame.Id.IsEmpty);
    }

    [Fact]
    public void AnEscapedStringIsUnescapedBeforeValidation()
    {
        var frame = Parse("""{"type":"join","group":"r\u006Fom"}""").Frame!;

        Assert.Equal("room", frame.Group);
    }

    [Fact]
    public void AnEscapedCharacterOutsideTheCharsetIsStillRefused()
    {
        Assert.Equal(ErrorCodes.BadFrame, Parse("""{"type":"join","group":"a\u002Fb"}""").ErrorCode);
    }

    [Fact]
    public void TheLastOfDuplicateFieldsWins()
    {
        var frame = Parse("""{"type":"shout","type":"ping","id":1,"id":2}""").Frame!;

        Assert.Equal(ClientFrameType.Ping, frame.Type);
        Assert.Equal("2", Encoding.UTF8.GetString(frame.Id.Span));
    }

    [Theory]
    [InlineData("", ErrorCodes.BadJson)]
    [InlineData("   ", ErrorCodes.BadJson)]
    [InlineData("{", ErrorCodes.BadJson)]
    [InlineData("{}{}", ErrorCodes.BadJson)]
    [InlineData("{'type':'ping'}", ErrorCodes.BadJson)]
    [InlineData("null", ErrorCodes.BadFrame)]
    [InlineData("42", ErrorCodes.BadFrame)]
    [InlineData("{}", ErrorCodes.BadFrame)]
    [InlineData("""{"type":null}""", ErrorCodes.BadFrame)]
    [InlineData("""{"type":"PING"}""", ErrorCodes.UnknownType)]
    [InlineData("""{"type":"send","to":"a","group":"b","data":1}""", ErrorCodes.BadFrame)]
    [InlineData("""{"type":"send","data":1}""", ErrorCodes.BadFrame)]
    [InlineData("""{"type":"send","to":"a"}""", ErrorCodes.BadFrame)]
    [InlineData("""{"type":"send","to":"a b","data":1}""", ErrorCodes.BadFrame)]
    [InlineData("""{"type":"join","group":["g"]}""", ErrorCodes.BadFrame)]
    [InlineData("""{"type":"ping","id":[]}""", ErrorCodes.BadFrame)]
    [InlineData("""{"type":"ping","id":false}""", ErrorCodes.BadFrame)]
    public void BadInputGetsItsCode(string json, string code)
    {
        var result = Parse(json);

        Assert.Null(result.Frame);
        Assert.Equal(code, result.ErrorCode);
        Assert.False(string.IsNullOrEmpty(result.ErrorMessage));
    }

    [Fact]
    public void AnIdOf128CharactersIsAcceptedAnd129IsNot()
    {
        Assert.NotNull(Parse($$"""{"type":"ping","id":"{{new string('i', 128)}}"}""").Frame);
        Assert.Equal(ErrorCodes.BadFrame, Parse($$"""{"type":"ping","id":"{{new string('i', 129)}}"}""").ErrorCode);
    }

    [Fact]
    public void NestingDeeperThanSixtyFourLevelsIsBadJson()
    {
        var ok = new string('[', 62) + new string(']', 62);
        var deep = new string('[', 64) + new string(']', 64);

        Assert.NotNull(Parse($$"""{"type":"send","to":"a","data":{{ok}}}""").Frame);
        Assert.Equal(ErrorCodes.BadJson, Parse($$"""{"type":"send","to":"a","data":{{deep}}}""").ErrorCode);
    }

    [Fact]
    public void AnErrorAfterTheIdEchoesTheId()
    {
        var result = Parse("""{"id":17,"type":"send","to":"a"}""");

        Assert.Equal("17", Encoding.UTF8.GetString(result.Id.Span));
    }

    private static ClientFrameParseResult Parse(string json) => ClientFrameParser.Parse(Encoding.UTF8.GetBytes(json));
}
