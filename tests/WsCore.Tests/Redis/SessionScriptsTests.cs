using System.Reflection;
using ServerlessWs.Core.Redis;

namespace ServerlessWs.Core.Tests.Redis;

/// <summary>The session scripts: one embedded Lua file each, each opening with what it takes and answers.</summary>
public sealed class SessionScriptsTests
{
    public static TheoryData<string> Scripts() =>
        [.. typeof(SessionScripts).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => f.Name)];

    [Theory]
    [MemberData(nameof(Scripts))]
    public void EveryScriptIsEmbeddedAndOpensWithItsKeysArgumentsAndReply(string name)
    {
        var script = typeof(SessionScripts).GetField(name)!.GetValue(null)!;
        var text = (string)script.GetType().GetProperty("Text")!.GetValue(script)!;
        var header = string.Join('\n', text.Split('\n').TakeWhile(line => line.StartsWith("--", StringComparison.Ordinal)));

        Assert.StartsWith($"-- {name}\n", header, StringComparison.Ordinal);
        Assert.Contains("KEYS", header, StringComparison.Ordinal);
        Assert.Contains("ARGV", header, StringComparison.Ordinal);
        Assert.Contains("eturn", header, StringComparison.Ordinal);
    }
}
