using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessWs.Infra.Tests;

/// <summary>
/// <c>infra/main.bicep</c> compiled to ARM JSON by the bicep binary from NuGet (once per test run), and the resources
/// of its modules. A missing binary fails the tests that need it: a deployment contract that cannot be checked is not
/// a passed one.
/// </summary>
internal static partial class ArmTemplate
{
    private static readonly Lazy<JsonObject> Main = new(Compile);

    public static JsonObject Root => Main.Value;

    /// <summary>Every resource a module deploys (not the ones it only references), with the module's template.</summary>
    public static IEnumerable<ModuleResource> Resources(string type) =>
        from module in Items(Root["resources"])
        where (string?)module["type"] == "Microsoft.Resources/deployments"
        let template = module["properties"]!["template"]!.AsObject()
        from resource in Items(template["resources"])
        where string.Equals((string?)resource["type"], type, StringComparison.OrdinalIgnoreCase) && resource["existing"] is null
        select new ModuleResource(template, resource.AsObject());

    /// <summary>The container apps, by their <c>azd-service-name</c> tag (the service names of azure.yaml).</summary>
    public static IReadOnlyDictionary<string, ModuleResource> ContainerApps() =>
        Resources("Microsoft.App/containerApps").ToDictionary(app =>
        {
            var tags = app.Resource["tags"] is JsonValue expression ? (string)expression! : app.Resource["tags"]!.ToJsonString();
            return ServiceTag().Match(tags) is { Success: true } m ? m.Groups[1].Value + m.Groups[2].Value : throw new InvalidOperationException($"A container app without an azd-service-name tag: {tags}");
        });

    private static IEnumerable<JsonNode> Items(JsonNode? resources) => resources switch
    {
        JsonArray array => array.Select(r => r!),
        JsonObject symbolic => symbolic.Select(p => p.Value!),
        _ => [],
    };

    private static JsonObject Compile()
    {
        var bicep = Repository.BuildValue("BicepPath");
        if (!File.Exists(bicep))
        {
            throw new FileNotFoundException($"The bicep binary is missing at {bicep}: restore tests/Infra.Tests (NuGet Azure.Bicep.CommandLine.linux-x64).");
        }

        var start = new ProcessStartInfo(bicep)
        {
            ArgumentList = { "build", Repository.PathOf("infra", "main.bicep"), "--stdout" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill();
            throw new TimeoutException("bicep build did not finish in 2 minutes.");
        }

        return process.ExitCode == 0
            ? JsonNode.Parse(stdout.Result)!.AsObject()
            : throw new InvalidOperationException($"bicep build failed ({process.ExitCode}): {stderr.Result}");
    }

    [GeneratedRegex("'azd-service-name', '([^']+)'|\"azd-service-name\":\"([^\"]+)\"")]
    private static partial Regex ServiceTag();
}

/// <summary>A resource of a module, with the module's template to resolve its variables and parameters.</summary>
internal sealed partial record ModuleResource(JsonObject Template, JsonObject Resource)
{
    public JsonNode Properties => Resource["properties"]!;

    /// <summary>
    /// The constant a value stands for: itself, or what <c>[variables('x')]</c> or <c>[parameters('x')]</c> (its
    /// default) names. Any other expression throws, so a test never compares an expression it did not understand.
    /// </summary>
    public JsonNode Resolve(JsonNode? value)
    {
        if (value is JsonValue v && v.TryGetValue<string>(out var text) && text.StartsWith('[') && !text.StartsWith("[[", StringComparison.Ordinal))
        {
            var match = Reference().Match(text);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Not a constant: {text}");
            }

            return match.Groups[1].Value == "variables"
                ? Resolve(Template["variables"]![match.Groups[2].Value])
                : Resolve(Template["parameters"]![match.Groups[2].Value]!["defaultValue"]
                    ?? throw new InvalidOperationException($"Parameter {match.Groups[2].Value} has no default."));
        }

        return value ?? throw new InvalidOperationException("A missing value.");
    }

    [GeneratedRegex(@"^\[(variables|parameters)\('([^']+)'\)\]$")]
    private static partial Regex Reference();
}
