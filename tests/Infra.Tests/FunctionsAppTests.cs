using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessWs.Infra.Tests;

/// <summary>
/// WsFunctions as deployed: the image runs the Functions host the way the host needs, every setting a binding names
/// is set, the host exports OpenTelemetry, and every function is documented (docs/operating.md) and nothing more.
/// </summary>
public sealed partial class FunctionsAppTests
{
    [Fact]
    public void TheFunctionsImageRunsAsTheBaseImageUser()
    {
        var image = Dockerfile.OfService("wsfunctions");

        // The host creates /azure-functions-host/Secrets (root-owned) for its keys; any other user cannot, and then
        // no function key validates.
        Assert.True(image.User is null or "root" or "0", $"WsFunctions' image runs as {image.User}; the Functions host needs root");
        Assert.StartsWith("mcr.microsoft.com/azure-functions/dotnet-isolated:", image.BaseImages[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void EverySettingTheBindingsNameIsSetOnTheFunctionsApp()
    {
        var settings = FunctionsAppSettings();
        var named = FunctionsMetadata()
            .SelectMany(f => f!["bindings"]!.AsArray())
            .SelectMany(b => b!.AsObject())
            .Select(p => p.Value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null)
            .SelectMany(s => s is null ? [] : SettingReference().Matches(s).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);

        Assert.NotEmpty(named);
        Assert.All(named, name => Assert.Contains(name.Replace(":", "__", StringComparison.Ordinal), settings));
    }

    [Fact]
    public void TheFunctionsHostHasAStableIdAndItsStorage()
    {
        var settings = FunctionsAppSettings();

        Assert.Contains("AzureFunctionsWebHost__hostid", settings);
        Assert.Contains("AzureWebJobsStorage__accountName", settings);
        Assert.Contains("FUNCTIONS_WORKER_RUNTIME", settings);
    }

    [Fact]
    public void TheFunctionsHostExportsOpenTelemetry()
    {
        var host = JsonNode.Parse(Repository.Read("WsFunctions", "host.json"))!;

        Assert.Equal("OpenTelemetry", (string?)host["telemetryMode"]);
    }

    [Fact]
    public void EveryFunctionIsInTheAdminTableAndEveryRowIsAFunction()
    {
        var built = FunctionsMetadata().Select(f => (string)f!["name"]!).Order(StringComparer.Ordinal).ToArray();
        var documented = DocumentedFunctions().Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(built, documented);
    }

    private static JsonArray FunctionsMetadata() => JsonNode.Parse(File.ReadAllText(Repository.FunctionsMetadataPath()))!.AsArray();

    /// <summary>
    /// The names the app's env sets: its literal entries (the env is an expression once the shared session settings
    /// are concatenated to it).
    /// </summary>
    private static HashSet<string> FunctionsAppSettings()
    {
        var container = ArmTemplate.ContainerApps()["wsfunctions"].Properties["template"]!["containers"]![0]!;
        return container["env"] is JsonArray array
            ? array.Select(e => (string)e!["name"]!).ToHashSet(StringComparer.Ordinal)
            : EnvName().Matches((string)container["env"]!).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"createObject\('name', '([^']+)'")]
    private static partial Regex EnvName();

    /// <summary>The first column of the table in docs/operating.md whose header starts <c>| function |</c>.</summary>
    private static List<string> DocumentedFunctions()
    {
        var names = new List<string>();
        var inTable = false;
        foreach (var line in File.ReadLines(Repository.PathOf("docs", "operating.md")))
        {
            if (line.StartsWith("| function |", StringComparison.Ordinal))
            {
                inTable = true;
            }
            else if (inTable && !line.StartsWith('|'))
            {
                break;
            }
            else if (inTable && FunctionRow().Match(line) is { Success: true } row)
            {
                names.Add(row.Groups[1].Value);
            }
        }

        Assert.True(inTable, "docs/operating.md has no table headed | function |");
        return names;
    }

    [GeneratedRegex("%([^%]+)%")]
    private static partial Regex SettingReference();

    [GeneratedRegex(@"^\| `([A-Za-z0-9_]+)` \|")]
    private static partial Regex FunctionRow();
}
